import { Form, Link } from "@remix-run/react";

/** The bar above every signed-in page. */
export function Shell({ userName, orgName, isAdmin, children }: { userName: string; orgName: string; isAdmin?: boolean; children: React.ReactNode }) {
  return (
    <>
      <header className="topbar">
        <Link to="/">{orgName}</Link>
        <nav aria-label="Account">
          {isAdmin ? <Link to="/admin">Organization Settings</Link> : null}
          <Link to="/settings">My Profile</Link>
          <span aria-hidden="true">·</span>
          <span>{userName}</span>
          <Form method="post" action="/logout">
            <button type="submit" className="secondary">
              Sign out
            </button>
          </Form>
        </nav>
      </header>
      {children}
    </>
  );
}
