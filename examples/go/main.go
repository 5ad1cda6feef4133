// A Go client of quota-sidecar: the calls an agent makes around one tool call, each checked.
//
// Build with examples/go/build.sh OUT (stubs from `scripts/gen_stubs.sh OUT/gen go`, Debian's
// grpc-go in GOPATH mode), then:
//
//	QUOTA_SIDECAR_DATA_TOKEN=... OUT/smoke --target 127.0.0.1:50051 --user alice --tool search
//
// It expects the user to have a $10 daily budget with an 80% alert threshold and the tool a
// limit of 1 request per minute, both unused (the quota file of
// tests/integration/test_other_languages.py). It prints one line per step and exits 1 with a
// message at the first line that differs from the expected one.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/quota-sidecar/quota-sidecar/clients/go/quotasidecarv1"
)

const (
	dailyLimitNanos = int64(10_000_000_000) // $10: more than an int32 holds
	estimateNanos   = int64(9_000_000_000)
	costNanos       = int64(8_500_000_001) // odd on purpose: any rounding would show
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go smoke client: "+format+"\n", args...)
	os.Exit(1)
}

// expect prints a step's line and stops the client when it is not the expected one.
func expect(got, want string) {
	fmt.Println(got)
	if got != want {
		fail("got %q, want %q", got, want)
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "the sidecar's host:port")
	user := flag.String("user", "", "a user with a $10 daily budget")
	tool := flag.String("tool", "", "a tool limited to 1 request per minute")
	flag.Parse()

	// grpc-go 1.33 (Debian 12) has no credentials/insecure; WithInsecure is its plaintext option.
	conn, err := grpc.Dial(*target, grpc.WithInsecure())
	if err != nil {
		fail("dial %s: %v", *target, err)
	}
	defer conn.Close()
	client := v1.NewQuotaServiceClient(conn)
	base := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer "+os.Getenv("QUOTA_SIDECAR_DATA_TOKEN"))
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(base, 10*time.Second) }

	userSubject := &v1.Subject{Scope: v1.Scope_SCOPE_USER, Identifier: *user}
	subjects := []*v1.Subject{userSubject, {Scope: v1.Scope_SCOPE_TOOL, Identifier: *tool}}

	// 1. A reserving check: the estimate is held against the daily budget.
	ctx, cancel := call()
	check, err := client.CheckQuota(ctx, &v1.CheckQuotaRequest{
		Subjects: subjects, EstimatedCostNanos: estimateNanos, ToolName: *tool, Reserve: true})
	cancel()
	if err != nil {
		fail("CheckQuota: %v", err)
	}
	var daily *v1.LimitStatus
	for _, limit := range check.Limits {
		if limit.Limit == v1.LimitKind_LIMIT_KIND_COST_DAILY {
			daily = limit
		}
	}
	if daily == nil {
		fail("CheckQuota returned no daily cost limit: %v", check)
	}
	expect(fmt.Sprintf("check allowed=%t reservation=%s limit_amount=%d held=%d remaining=%d",
		check.Allowed, yes(check.ReservationId != ""), daily.LimitAmount, daily.Held, daily.Remaining),
		fmt.Sprintf("check allowed=true reservation=yes limit_amount=%d held=%d remaining=%d",
			dailyLimitNanos, estimateNanos, dailyLimitNanos-estimateNanos))

	// 2. Settle the hold to the actual cost; a retry reuses the idempotency key and counts once.
	record := &v1.RecordUsageRequest{Subjects: subjects, CostNanos: costNanos, ToolName: *tool,
		IdempotencyKey: "settle-" + *user, ReservationId: check.ReservationId}
	for _, step := range []string{
		"record recorded=true duplicate=false hold_settled=true",
		"retry recorded=false duplicate=true hold_settled=false",
	} {
		ctx, cancel = call()
		recorded, err := client.RecordUsage(ctx, record)
		cancel()
		if err != nil {
			fail("RecordUsage: %v", err)
		}
		expect(fmt.Sprintf("%s recorded=%t duplicate=%t hold_settled=%t", strings.Fields(step)[0],
			recorded.Recorded, recorded.Duplicate, recorded.HoldSettled), step)
	}

	// 3. The usage holds the exact int64 cost, once, and no hold.
	ctx, cancel = call()
	usage, err := client.GetUsage(ctx, &v1.GetUsageRequest{Subject: userSubject})
	cancel()
	if err != nil {
		fail("GetUsage: %v", err)
	}
	expect(fmt.Sprintf("usage cost_today_nanos=%d held_nanos=%d requests_today=%d",
		usage.CostTodayNanos, usage.HeldNanos, usage.RequestsToday),
		fmt.Sprintf("usage cost_today_nanos=%d held_nanos=0 requests_today=1", costNanos))

	// 4. The tool's one request a minute is used: denied, with when to retry.
	ctx, cancel = call()
	denied, err := client.CheckQuota(ctx, &v1.CheckQuotaRequest{Subjects: subjects, ToolName: *tool})
	cancel()
	if err != nil {
		fail("CheckQuota: %v", err)
	}
	wait := denied.RetryAfter.AsDuration()
	expect(fmt.Sprintf("denied allowed=%t code=%s subject=%s retry_after=%s", denied.Allowed,
		denied.Code, denied.DeniedSubject.GetIdentifier(), yes(wait > 0 && wait <= 66*time.Second)),
		fmt.Sprintf("denied allowed=false code=DENIAL_CODE_RATE_LIMITED subject=%s retry_after=yes", *tool))

	// 5. The 80% alert of the record, replayed from the start of the stream (cursor "0").
	ctx, cancel = context.WithTimeout(base, 20*time.Second)
	stream, err := client.StreamAlerts(ctx, &v1.StreamAlertsRequest{Cursor: "0",
		Identifiers: []string{*user}, Kinds: []v1.AlertKind{v1.AlertKind_ALERT_KIND_THRESHOLD_WARNING}})
	if err != nil {
		fail("StreamAlerts: %v", err)
	}
	var alert *v1.Alert
	for alert == nil {
		event, err := stream.Recv()
		if err == io.EOF {
			fail("StreamAlerts ended before an alert")
		} else if err != nil {
			fail("StreamAlerts: %v", err)
		}
		alert = event.GetAlert() // nil for a heartbeat
	}
	cancel() // ends the stream: one alert is all this client wants
	expect(fmt.Sprintf("alert kind=%s limit=%s percent=%d used=%d limit_amount=%d",
		alert.Kind, alert.Limit, alert.ThresholdPercent, alert.Used, alert.LimitAmount),
		fmt.Sprintf("alert kind=ALERT_KIND_THRESHOLD_WARNING limit=LIMIT_KIND_COST_DAILY percent=80 used=%d limit_amount=%d",
			costNanos, dailyLimitNanos))

	// 6. A negative estimate is refused, naming the field.
	ctx, cancel = call()
	_, err = client.CheckQuota(ctx, &v1.CheckQuotaRequest{Subjects: subjects, EstimatedCostNanos: -1})
	cancel()
	refusal := status.Convert(err)
	code := refusal.Code().String() // grpc-go spells codes in CamelCase; the transcript does not
	if refusal.Code() == codes.InvalidArgument {
		code = "INVALID_ARGUMENT"
	}
	expect(fmt.Sprintf("invalid code=%s names_field=%s", code,
		yes(strings.Contains(refusal.Message(), "estimated_cost_nanos"))),
		"invalid code=INVALID_ARGUMENT names_field=yes")
	fmt.Println("ok")
}
