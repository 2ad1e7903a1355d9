// The last page of an app's sign-in through the portal's pages: it leads the browser back to the provider
// (/oidc/interaction/{uid}) with a plain navigation. Arriving here after a form's POST, the redirects on to the app
// (its loopback address or its own scheme) are then no longer part of that form submission, which the page's
// Content-Security-Policy (form-action) would stop.
import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useEffect } from "react";
import { INTERACTION_PREFIX, isInteractionUid } from "~/lib/oidc/paths.ts";

export const meta: MetaFunction<typeof loader> = () => [{ title: "Returning to the app" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const uid = new URL(request.url).searchParams.get("uid");
  if (!isInteractionUid(uid)) throw new Response("Not found", { status: 404 });
  return { next: `${INTERACTION_PREFIX}${uid}` };
}

export default function ContinueToApp() {
  const { next } = useLoaderData<typeof loader>();
  useEffect(() => window.location.replace(next), [next]);
  return (
    <main className="narrow">
      {/* One navigation only: without JavaScript the refresh, with it the effect. Both at once raced, and the
          second found the interaction already finished ("This sign-in has ended"). */}
      <noscript>
        <meta httpEquiv="refresh" content={`0;url=${next}`} />
      </noscript>
      <h1>Returning to the app</h1>
      <div className="card">
        <p>You're signed in. The app continues in a moment.</p>
        <p>
          <a href={next}>Continue to the app</a>
        </p>
      </div>
    </main>
  );
}
