# A Ruby client of quota-sidecar: the calls an agent makes around one tool call, each checked.
#
# Build with examples/ruby/build.sh OUT (stubs from `scripts/gen_stubs.sh OUT/gen ruby`; Debian's
# ruby-grpc and ruby-google-protobuf), then:
#
#   QUOTA_SIDECAR_DATA_TOKEN=... OUT/smoke --target 127.0.0.1:50051 --user alice --tool search
#
# It expects the user to have a $10 daily budget with an 80% alert threshold and the tool a
# limit of 1 request per minute, both unused (the quota file of
# tests/integration/test_other_languages.py). It prints one line per step and exits 1 with a
# message at the first line that differs from the expected one.
require 'grpc'
require 'quota_sidecar/v1/quota_services_pb'

V1 = QuotaSidecar::V1
DAILY_LIMIT_NANOS = 10_000_000_000 # $10: more than an int32 holds
ESTIMATE_NANOS = 9_000_000_000
COST_NANOS = 8_500_000_001 # odd on purpose: any rounding would show

def fail!(message)
  warn "ruby smoke client: #{message}"
  exit 1
end

# Prints a step's line and stops the client when it is not the expected one.
def expect_line(got, want)
  puts got
  $stdout.flush
  fail!("got #{got.inspect}, want #{want.inspect}") unless got == want
end

def yes(ok) = ok ? 'yes' : 'no'

options = { '--target' => '127.0.0.1:50051', '--user' => '', '--tool' => '' }
ARGV.each_slice(2) do |key, value|
  fail!("unknown option #{key}") unless options.key?(key) && value
  options[key] = value
end
user, tool = options.values_at('--user', '--tool')
stub = V1::QuotaService::Stub.new(options['--target'], :this_channel_is_insecure)
metadata = { 'authorization' => "Bearer #{ENV.fetch('QUOTA_SIDECAR_DATA_TOKEN', '')}" }
call = -> { { metadata: metadata, deadline: Time.now + 10 } } # every call: the token, a deadline
user_subject = V1::Subject.new(scope: :SCOPE_USER, identifier: user)
subjects = [user_subject, V1::Subject.new(scope: :SCOPE_TOOL, identifier: tool)]

# 1. A reserving check: the estimate is held against the daily budget.
check = stub.check_quota(
  V1::CheckQuotaRequest.new(subjects: subjects, estimated_cost_nanos: ESTIMATE_NANOS, tool_name: tool,
                            reserve: true), **call.call
)
daily = check.limits.find { |limit| limit.limit == :LIMIT_KIND_COST_DAILY }
fail!("CheckQuota returned no daily cost limit: #{check.inspect}") unless daily
expect_line("check allowed=#{check.allowed} reservation=#{yes(!check.reservation_id.empty?)} " \
            "limit_amount=#{daily.limit_amount} held=#{daily.held} remaining=#{daily.remaining}",
            "check allowed=true reservation=yes limit_amount=#{DAILY_LIMIT_NANOS} held=#{ESTIMATE_NANOS} " \
            "remaining=#{DAILY_LIMIT_NANOS - ESTIMATE_NANOS}")

# 2. Settle the hold to the actual cost; a retry reuses the idempotency key and counts once.
record = V1::RecordUsageRequest.new(subjects: subjects, cost_nanos: COST_NANOS, tool_name: tool,
                                    idempotency_key: "settle-#{user}", reservation_id: check.reservation_id)
['record recorded=true duplicate=false hold_settled=true',
 'retry recorded=false duplicate=true hold_settled=false'].each do |step|
  recorded = stub.record_usage(record, **call.call)
  expect_line("#{step.split.first} recorded=#{recorded.recorded} duplicate=#{recorded.duplicate} " \
              "hold_settled=#{recorded.hold_settled}", step)
end

# 3. The usage holds the exact int64 cost, once, and no hold.
usage = stub.get_usage(V1::GetUsageRequest.new(subject: user_subject), **call.call)
expect_line("usage cost_today_nanos=#{usage.cost_today_nanos} held_nanos=#{usage.held_nanos} " \
            "requests_today=#{usage.requests_today}",
            "usage cost_today_nanos=#{COST_NANOS} held_nanos=0 requests_today=1")

# 4. The tool's one request a minute is used: denied, with when to retry.
denied = stub.check_quota(V1::CheckQuotaRequest.new(subjects: subjects, tool_name: tool), **call.call)
wait = denied.retry_after
waits = !wait.nil? && (wait.seconds.positive? || wait.nanos.positive?) && wait.seconds <= 66
expect_line("denied allowed=#{denied.allowed} code=#{denied.code} subject=#{denied.denied_subject&.identifier} " \
            "retry_after=#{yes(waits)}",
            "denied allowed=false code=DENIAL_CODE_RATE_LIMITED subject=#{tool} retry_after=yes")

# 5. The 80% alert of the record, replayed from the start of the stream (cursor "0").
follow = V1::StreamAlertsRequest.new(cursor: '0', identifiers: [user], kinds: [:ALERT_KIND_THRESHOLD_WARNING])
operation = stub.stream_alerts(follow, metadata: metadata, deadline: Time.now + 20, return_op: true)
alert = nil
begin
  operation.execute.each do |event|
    next unless event.event == :alert # skip heartbeats

    alert = event.alert
    break
  end
ensure
  operation.cancel # one alert is all this client wants
end
fail!('StreamAlerts ended before an alert') unless alert
expect_line("alert kind=#{alert.kind} limit=#{alert.limit} percent=#{alert.threshold_percent} " \
            "used=#{alert.used} limit_amount=#{alert.limit_amount}",
            'alert kind=ALERT_KIND_THRESHOLD_WARNING limit=LIMIT_KIND_COST_DAILY percent=80 ' \
            "used=#{COST_NANOS} limit_amount=#{DAILY_LIMIT_NANOS}")

# 6. A negative estimate is refused, naming the field.
refusal = nil
begin
  stub.check_quota(V1::CheckQuotaRequest.new(subjects: subjects, estimated_cost_nanos: -1), **call.call)
rescue GRPC::BadStatus => e
  refusal = e
end
code = refusal&.code == GRPC::Core::StatusCodes::INVALID_ARGUMENT ? 'INVALID_ARGUMENT' : refusal&.code.inspect
expect_line("invalid code=#{code} names_field=#{yes(refusal&.details.to_s.include?('estimated_cost_nanos'))}",
            'invalid code=INVALID_ARGUMENT names_field=yes')
puts 'ok'
