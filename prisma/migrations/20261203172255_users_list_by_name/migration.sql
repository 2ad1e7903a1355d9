-- CreateIndex
CREATE INDEX "User_orgId_name_id_idx" ON "User"("orgId", "name", "id");
