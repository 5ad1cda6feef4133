// A TypeScript program that uses the quota-sidecar-client npm package as a user would (it is
// installed from the packed tarball into a project of its own, and type-checked with tsc):
// the smoke calls of examples/go/main.go, printing the same transcript, each step checked.
// Run: node smoke.js --target HOST:PORT --user U --tool T (QUOTA_SIDECAR_DATA_TOKEN set).
import {
  AlertKind,
  AlertKindSchema,
  DenialCodeSchema,
  LimitKind,
  LimitKindSchema,
  Code,
  ConnectError,
  Scope,
  SubjectSchema,
  connectQuotaSidecar,
  create,
  type Alert,
} from "quota-sidecar-client";

const DAILY_LIMIT = 10_000_000_000n; // $10: more than an int32 holds
const ESTIMATE = 9_000_000_000n;
const COST = 8_500_000_001n; // odd on purpose: any rounding would show

function option(name: string): string {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0 || at + 1 >= process.argv.length) throw new Error(`--${name} is required`);
  return process.argv[at + 1];
}

function expect(got: string, want: string): void {
  console.log(got);
  if (got !== want) {
    console.error(`node smoke client: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    process.exit(1);
  }
}

const yes = (ok: boolean): string => (ok ? "yes" : "no");
type EnumSchema = { values: readonly { number: number; name: string }[] };
const nameOf = (schema: EnumSchema, value: number): string =>
  schema.values.find((v) => v.number === value)?.name ?? String(value);

async function main(): Promise<void> {
  const [user, tool] = [option("user"), option("tool")];
  const { quota } = connectQuotaSidecar(option("target"), {
    token: process.env.QUOTA_SIDECAR_DATA_TOKEN,
  });
  const call = { timeoutMs: 10_000 };
  const userSubject = create(SubjectSchema, { scope: Scope.USER, identifier: user });
  const subjects = [userSubject, create(SubjectSchema, { scope: Scope.TOOL, identifier: tool })];

  // 1. A reserving check: the estimate is held against the daily budget.
  const check = await quota.checkQuota(
    { subjects, estimatedCostNanos: ESTIMATE, toolName: tool, reserve: true }, call);
  const daily = check.limits.find((l) => l.limit === LimitKind.COST_DAILY);
  if (!daily) throw new Error("CheckQuota returned no daily cost limit");
  expect(`check allowed=${check.allowed} reservation=${yes(check.reservationId !== "")}` +
    ` limit_amount=${daily.limitAmount} held=${daily.held} remaining=${daily.remaining}`,
    `check allowed=true reservation=yes limit_amount=${DAILY_LIMIT} held=${ESTIMATE}` +
    ` remaining=${DAILY_LIMIT - ESTIMATE}`);

  // 2. Settle the hold to the actual cost; a retry reuses the idempotency key and counts once.
  const record = { subjects, costNanos: COST, toolName: tool, idempotencyKey: `settle-${user}`,
    reservationId: check.reservationId };
  for (const step of ["record recorded=true duplicate=false hold_settled=true",
    "retry recorded=false duplicate=true hold_settled=false"]) {
    const r = await quota.recordUsage(record, call);
    expect(`${step.split(" ")[0]} recorded=${r.recorded} duplicate=${r.duplicate}` +
      ` hold_settled=${r.holdSettled}`, step);
  }

  // 3. The usage holds the exact int64 cost (a bigint), once, and no hold.
  const usage = await quota.getUsage({ subject: userSubject }, call);
  expect(`usage cost_today_nanos=${usage.costTodayNanos} held_nanos=${usage.heldNanos}` +
    ` requests_today=${usage.requestsToday}`,
    `usage cost_today_nanos=${COST} held_nanos=0 requests_today=1`);

  // 4. The tool's one request a minute is used: denied, with when to retry.
  const denied = await quota.checkQuota({ subjects, toolName: tool }, call);
  const wait = Number(denied.retryAfter?.seconds ?? 0n) + (denied.retryAfter?.nanos ?? 0) / 1e9;
  expect(`denied allowed=${denied.allowed} code=${nameOf(DenialCodeSchema, denied.code)}` +
    ` subject=${denied.deniedSubject?.identifier} retry_after=${yes(wait > 0 && wait <= 66)}`,
    `denied allowed=false code=DENIAL_CODE_RATE_LIMITED subject=${tool} retry_after=yes`);

  // 5. The 80% alert of the record, replayed from the start of the stream (cursor "0").
  const stop = new AbortController();
  let alert: Alert | undefined;
  const stream = quota.streamAlerts(
    { cursor: "0", identifiers: [user], kinds: [AlertKind.THRESHOLD_WARNING] },
    { signal: stop.signal, timeoutMs: 20_000 });
  for await (const event of stream) {
    if (event.event.case === "alert") {
      alert = event.event.value;
      break; // leaving the loop ends the stream: one alert is all this client wants
    }
  }
  stop.abort();
  if (!alert) throw new Error("StreamAlerts ended before an alert");
  expect(`alert kind=${nameOf(AlertKindSchema, alert.kind)}` +
    ` limit=${nameOf(LimitKindSchema, alert.limit)} percent=${alert.thresholdPercent}` +
    ` used=${alert.used} limit_amount=${alert.limitAmount}`,
    `alert kind=ALERT_KIND_THRESHOLD_WARNING limit=LIMIT_KIND_COST_DAILY percent=80` +
    ` used=${COST} limit_amount=${DAILY_LIMIT}`);

  // 6. A negative estimate is refused, naming the field.
  let refusal = "none";
  let namesField = false;
  try {
    await quota.checkQuota({ subjects, estimatedCostNanos: -1n }, call);
  } catch (error) {
    const e = ConnectError.from(error);
    refusal = e.code === Code.InvalidArgument ? "INVALID_ARGUMENT" : Code[e.code];
    namesField = e.rawMessage.includes("estimated_cost_nanos");
  }
  expect(`invalid code=${refusal} names_field=${yes(namesField)}`,
    "invalid code=INVALID_ARGUMENT names_field=yes");
  console.log("ok");
}

main().catch((error: unknown) => {
  console.error("node smoke client:", error);
  process.exit(1);
});
