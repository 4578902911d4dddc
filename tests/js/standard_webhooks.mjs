// The official Standard Webhooks library, as a sender and as a consumer:
//   node standard_webhooks.mjs sign <secret> <msg id> <unix time> < body
//     prints the webhook-signature it makes
//   node standard_webhooks.mjs verify <secret> < {"body", "headers"}
//     exits 0 if the library accepts the delivery, 1 with its error if not
import { Webhook } from "standardwebhooks";

const [, , mode, secret, id, ts] = process.argv;
const input = await new Promise((done) => {
  let data = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (c) => { data += c; });
  process.stdin.on("end", () => done(data));
});
const wh = new Webhook(secret);

if (mode === "sign") {
  process.stdout.write(wh.sign(id, new Date(Number(ts) * 1000), input));
} else {
  const { body, headers } = JSON.parse(input);
  try {
    wh.verify(body, headers);
  } catch (e) {
    process.stderr.write(String(e));
    process.exit(1);
  }
}
