import type { LinksFunction, LoaderFunctionArgs } from "@remix-run/node";
import { data } from "@remix-run/node";
import {
  isRouteErrorResponse,
  Link,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  useLoaderData,
  useLocation,
  useRouteError,
  useRouteLoaderData,
} from "@remix-run/react";
import stylesHref from "./styles.css?url";
import { readFlash } from "./lib/flash.server.ts";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: stylesHref }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const flash = await readFlash(request);
  return data({ flash: flash.message, nonce: context.cspNonce }, flash.setCookie ? { headers: { "Set-Cookie": flash.setCookie } } : undefined);
}

export function Layout({ children }: { children: React.ReactNode }) {
  const nonce = useRouteLoaderData<typeof loader>("root")?.nonce;
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* No favicon yet; this keeps browsers from asking for /favicon.ico. */}
        <link rel="icon" href="data:," />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  const { flash } = useLoaderData<typeof loader>();
  return (
    <>
      {flash ? (
        <p className="flash" role="status">
          {flash}
        </p>
      ) : null}
      <Outlet />
    </>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const { pathname, search } = useLocation();
  if (isRouteErrorResponse(error) && error.status === 503) {
    // The database is unavailable (server/database-outage.ts); the sentence says whether a sent form was lost.
    return (
      <main className="narrow">
        <h1>The portal cannot reach its database</h1>
        <p>{String(error.data)}</p>
        <p>
          {/* A whole new page load, so that it works the same with and without JavaScript. */}
          <a href={pathname + search}>Try again</a>
        </p>
      </main>
    );
  }
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <main className="narrow">
      <h1>{notFound ? "Page not found" : "Something went wrong"}</h1>
      <p>
        {notFound
          ? "There is nothing at this address, or you don't have access to it."
          : isRouteErrorResponse(error) && error.status < 500
            ? String(error.data)
            : "We couldn't finish that request. Nothing you typed was lost on our side; go back and try again in a moment."}
      </p>
      <p>
        <Link to="/">Go to the portal</Link>
      </p>
    </main>
  );
}
