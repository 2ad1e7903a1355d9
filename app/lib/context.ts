// What the server passes to every loader and action besides the request.
export type RequestContext = { clientAddress: string; /** For inline scripts allowed by the Content-Security-Policy. */ cspNonce?: string };

declare module "@remix-run/node" {
  // Module augmentation needs an interface: Remix declares AppLoadContext as one.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppLoadContext extends RequestContext {}
}

export function clientAddress(context: unknown): string {
  const address = (context as Partial<RequestContext> | undefined)?.clientAddress;
  return address && address.length <= 64 ? address : "unknown";
}
