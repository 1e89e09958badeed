/**
 * `npx tsx server/auth/hash-password.ts`: prints the scrypt hash of a password for
 * `ROTOR_OPERATORS` or `${ROTOR_DATA_DIR}/operators.json`.
 *
 * The password is read from standard input (typed without echo on a terminal, or piped:
 * `printf %s "$PW" | npx tsx server/auth/hash-password.ts`), never from the command line,
 * where it would show in `ps` and the shell history.
 */
import { hashPassword } from "./password";

async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  }
  process.stderr.write("Password (not shown): ");
  stdin.setRawMode(true);
  stdin.resume();
  let typed = "";
  return new Promise((resolve, reject) => {
    stdin.on("data", (buf: Buffer) => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write("\n");
          resolve(typed);
          return;
        }
        if (ch === "\u0003") {
          stdin.setRawMode(false);
          reject(new Error("cancelled"));
          return;
        }
        if (ch === "\u007f" || ch === "\b") typed = typed.slice(0, -1);
        else typed += ch;
      }
    });
  });
}

async function main() {
  if (process.argv.length > 2) {
    console.error("hash-password: pass the password on standard input, not as an argument");
    process.exit(2);
  }
  const password = await readPassword();
  if (password.length < 8) {
    console.error("hash-password: use at least 8 characters");
    process.exit(2);
  }
  console.log(await hashPassword(password));
}

main().catch((err: unknown) => {
  console.error("hash-password:", err instanceof Error ? err.message : err);
  process.exit(1);
});
