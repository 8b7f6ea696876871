/**
 * `tessera webhooks …`: webhook endpoints and their deliveries from the command line, through the same domain
 * code as the admin API (src/events/webhooks.ts).
 *
 * - The signing secret is printed once, by `add` (and `rotate-secret`); Tessera keeps it sealed.
 * - Deliveries themselves are sent by the running server (`tessera serve`), which picks up what a command
 *   changed within a poll.
 */
import type { WebhookDelivery, WebhookEndpoint } from "../events/index.js";
import type { Services } from "../server/services.js";
import type { WebhookDeliveryState } from "../storage/index.js";
import { commaList, table } from "./format.js";
import { CliUsageError } from "./users.js";

export const WEBHOOKS_HELP = `  webhooks add URL [--events TYPE[,TYPE…] | --events '*'] [--json]
                                 Register a webhook endpoint (default: every event type); prints its
                                 signing secret once
  webhooks list [--json]         List webhook endpoints (never their secrets)
  webhooks remove ID             Delete an endpoint and its deliveries
  webhooks rotate-secret ID      A new signing secret (printed once; the old one signs too for a day)
  webhooks deliveries ID [--state pending|delivered|dead] [--json]
                                 List an endpoint's deliveries, newest first
  webhooks redeliver ID DELIVERY_ID
                                 Send a delivery again (same webhook-id)
`;

export const WEBHOOK_FLAGS = { events: "string", state: "string", json: "boolean" } as const;

const BY = { actor: "cli" };
const STATES: readonly WebhookDeliveryState[] = ["pending", "delivered", "dead"];
const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

const endpointRow = (w: WebhookEndpoint) => ({
  id: w.id,
  url: w.url,
  events: w.events.join(","),
  enabled: w.enabled,
  created: iso(w.createdAt),
});

const deliveryRow = (d: WebhookDelivery) => ({
  id: d.id,
  event: d.eventId,
  type: d.eventType,
  state: d.state,
  attempts: d.attempts,
  next: iso(d.nextAttemptAt),
  status: d.lastStatus,
  error: d.lastError,
});

export async function runWebhooksCommand(
  ctx: Services,
  words: string[],
  flags: Record<string, string | boolean>,
  out: (text: string) => void,
): Promise<number> {
  const [, sub, arg, second, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  const json = flags.json === true;
  const missing = (id: string) => {
    process.stderr.write(`tessera: no webhook endpoint with id ${id}\n`);
    return 1;
  };

  switch (sub) {
    case "add": {
      if (!arg || second) throw new CliUsageError("webhooks add needs one URL");
      const events = commaList(flags.events) ?? ["*"];
      const { endpoint, secret } = await ctx.webhooks.create({ url: arg, events }, BY);
      if (json) out(`${JSON.stringify({ ...endpoint, secret }, null, 2)}\n`);
      else out(`${table([endpointRow(endpoint)])}\n\nSigning secret (shown once):\n${secret}\n`);
      return 0;
    }
    case "list": {
      if (arg) throw new CliUsageError("webhooks list takes no argument");
      const endpoints = await ctx.webhooks.list();
      out(json ? `${JSON.stringify(endpoints, null, 2)}\n` : `${table(endpoints.map(endpointRow))}\n`);
      return 0;
    }
    case "remove": {
      if (!arg || second) throw new CliUsageError("webhooks remove needs an endpoint id");
      if (!(await ctx.webhooks.remove(arg, BY))) return missing(arg);
      out(`Removed ${arg}\n`);
      return 0;
    }
    case "rotate-secret": {
      if (!arg || second) throw new CliUsageError("webhooks rotate-secret needs an endpoint id");
      if (!(await ctx.webhooks.get(arg))) return missing(arg);
      const { secret } = await ctx.webhooks.rotateSecret(arg, BY);
      out(
        json
          ? `${JSON.stringify({ id: arg, secret }, null, 2)}\n`
          : `New signing secret (shown once):\n${secret}\n`,
      );
      return 0;
    }
    case "deliveries": {
      if (!arg || second) throw new CliUsageError("webhooks deliveries needs an endpoint id");
      const state = typeof flags.state === "string" ? flags.state : undefined;
      if (state !== undefined && !STATES.includes(state as WebhookDeliveryState)) {
        throw new CliUsageError(`--state must be one of ${STATES.join(", ")}`);
      }
      if (!(await ctx.webhooks.get(arg))) return missing(arg);
      const deliveries = await ctx.webhooks.deliveries(
        arg,
        state ? { state: state as WebhookDeliveryState } : {},
      );
      out(json ? `${JSON.stringify(deliveries, null, 2)}\n` : `${table(deliveries.map(deliveryRow))}\n`);
      return 0;
    }
    case "redeliver": {
      if (!arg || !second)
        throw new CliUsageError("webhooks redeliver needs an endpoint id and a delivery id");
      if (!(await ctx.webhooks.get(arg))) return missing(arg);
      if (!(await ctx.webhooks.delivery(arg, second))) {
        process.stderr.write(`tessera: endpoint ${arg} has no delivery ${second}\n`);
        return 1;
      }
      const delivery = await ctx.webhooks.redeliver(arg, second, BY);
      out(`Delivery ${delivery.id} (event ${delivery.eventId}) is pending again; the server sends it.\n`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown command "webhooks ${sub ?? ""}"`.trimEnd());
  }
}
