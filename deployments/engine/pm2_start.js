// Starts the apps of an ecosystem file in the panel's PM2 daemon, through pm2's own API.
//
// The panel spawns this while a release builds: loading pm2 and connecting to the daemon (most
// of what a `pm2 start` costs) happens then. When the build is done, the panel writes the path
// of the ecosystem file on stdin and closes it; an empty stdin means "nothing to start".
// The outcome is one JSON line on stdout: {"ok": true} or {"error": "..."}.
"use strict";

const pm2 = require(process.argv[2]);

function finish(outcome, code) {
  process.stdout.write(JSON.stringify(outcome) + "\n");
  pm2.disconnect(() => process.exit(code));
}

pm2.connect((error) => {
  if (error) {
    process.stdout.write(JSON.stringify({ error: String(error.message || error) }) + "\n");
    process.exit(1);
  }
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => { input += chunk; });
  process.stdin.on("end", () => {
    const file = input.trim();
    if (!file) {
      finish({ ok: true, started: false }, 0);
      return;
    }
    pm2.start(file, (startError) => {
      if (startError) {
        const message = Array.isArray(startError)
          ? startError.map((e) => String(e.message || e)).join("; ")
          : String(startError.message || startError);
        finish({ error: message }, 1);
      } else {
        finish({ ok: true, started: true }, 0);
      }
    });
  });
});
