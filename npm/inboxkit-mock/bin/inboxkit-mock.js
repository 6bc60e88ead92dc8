#!/usr/bin/env node
// The `inboxkit-mock` command: runs this platform's binary with the same arguments, forwards
// signals to it and exits with its code.
import { spawn } from "node:child_process";

import { binaryPath } from "../dist/server.js";

let binary;
try {
  binary = binaryPath();
} catch (error) {
  console.error(`inboxkit-mock: ${error.message}`);
  process.exit(1);
}
const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  console.error(`inboxkit-mock: cannot run ${binary}: ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
