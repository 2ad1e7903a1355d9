-- CreateIndex
CREATE INDEX "User_orgId_name_id_email_phone_idx" ON "User"("orgId", "name", "id", "email", "phone");
