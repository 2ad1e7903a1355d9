// A real SMTP server on 127.0.0.1 for the mail tests: every message it accepts, parsed, in `received`.
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export type Smtp = { server: SMTPServer; port: number; received: ParsedMail[]; close: () => Promise<void> };

/** Listens on `port` (0: any free one); `received` may be shared with an earlier server on the same port. */
export function startSmtp(port = 0, received: ParsedMail[] = []): Promise<Smtp> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        received.push(mail);
        callback();
      }, callback);
    },
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const bound = (server.server.address() as AddressInfo).port;
      resolve({ server, port: bound, received, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}
