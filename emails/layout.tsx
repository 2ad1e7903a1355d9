// The frame every portal email shares: a short preview line, one column, a footer saying who sent it.
import type { ReactNode } from "react";
import { Body, Button, Container, Head, Heading, Hr, Html, Link, Preview, Text } from "@react-email/components";

const body = { backgroundColor: "#f6f7f9", fontFamily: "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif" };
const container = { backgroundColor: "#ffffff", margin: "24px auto", padding: "24px 32px", maxWidth: "520px", borderRadius: "8px" };
const heading = { fontSize: "22px", fontWeight: 600, color: "#111827" };
const paragraph = { fontSize: "15px", lineHeight: "24px", color: "#1f2937" };
const button = { backgroundColor: "#2563eb", color: "#ffffff", borderRadius: "6px", padding: "12px 20px", fontSize: "15px", fontWeight: 600 };
const small = { fontSize: "13px", lineHeight: "20px", color: "#6b7280" };

export function Layout({ preview, title, children }: { preview: string; title: string; children: ReactNode }) {
  return (
    <Html lang="en">
      <Head />
      <Preview>{preview}</Preview>
      <Body style={body}>
        <Container style={container}>
          <Heading as="h1" style={heading}>
            {title}
          </Heading>
          {children}
          <Hr />
          <Text style={small}>This message was sent by the sign-in portal. Replies to this address are not read.</Text>
        </Container>
      </Body>
    </Html>
  );
}

export function Paragraph({ children }: { children: ReactNode }) {
  return <Text style={paragraph}>{children}</Text>;
}

export function Note({ children }: { children: ReactNode }) {
  return <Text style={small}>{children}</Text>;
}

/** The one action of the email, followed by its address in full for clients that hide buttons. */
export function Action({ href, label }: { href: string; label: string }) {
  return (
    <>
      <Button href={href} style={button}>
        {label}
      </Button>
      {/* The plain-text version already shows the address next to the button label. */}
      <Text style={small} data-skip-in-text={true}>
        If the button does not work, copy this address into your browser:
        <br />
        <Link href={href}>{href}</Link>
      </Text>
    </>
  );
}
