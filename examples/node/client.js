#!/usr/bin/env node
// A Node.js client of quota-sidecar, built at run time from the contract in ../../protos.
//
// It does what an agent does around one tool call, printing one JSON object per line:
//   1. follows StreamAlerts for the user (replayed from --cursor, then live);
//   2. CheckQuota for user + tool with a hold (reserve: true) on the estimated cost;
//   3. RecordUsage to settle the hold to the actual cost (with an idempotency key);
//   4. GetUsage for the user;
//   5. prints --alerts alerts from the stream (waiting at most --wait seconds), then exits.
//
// Usage:
//   node client.js [--target 127.0.0.1:50051] [--user user-123] [--tool createIssues]
//                  [--provider openai] [--estimate 0.05] [--cost 0.04] [--alerts 0]
//                  [--cursor 0] [--wait 10]
// Environment: QUOTA_SIDECAR_TARGET (the target), QUOTA_SIDECAR_DATA_TOKEN (the data-plane token).
//
// Money is exact: dollars given as decimal strings are turned into integer nano-dollars
// without floating point, and int64 fields are read as strings (longs: String).
'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS = path.resolve(__dirname, '..', '..', 'protos');
const CALL_DEADLINE_MS = 5000;

function parseArgs(argv) {
  const options = {
    target: process.env.QUOTA_SIDECAR_TARGET || '127.0.0.1:50051',
    token: process.env.QUOTA_SIDECAR_DATA_TOKEN || '',
    user: 'user-123',
    tool: 'createIssues',
    provider: '',
    estimate: '0.05',
    cost: '0.04',
    alerts: '0',
    cursor: '0',
    wait: '10',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options) || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete option ${argv[i]}`);
    }
    options[key] = argv[i + 1];
  }
  return options;
}

// "0.05" dollars -> "50000000" nanos, exactly (no float arithmetic on money).
function dollarsToNanos(text) {
  const match = /^(\d+)(?:\.(\d{0,9}))?$/.exec(String(text).trim());
  if (!match) throw new Error(`not an amount of dollars: ${text}`);
  const fraction = (match[2] || '').padEnd(9, '0');
  return (BigInt(match[1]) * 1000000000n + BigInt(fraction)).toString();
}

function loadServices() {
  const definition = protoLoader.loadSync('quota_sidecar/v1/quota.proto', {
    includeDirs: [PROTOS],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).quota_sidecar.v1;
}

function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + CALL_DEADLINE_MS);
    client[method](request, metadata, { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

function print(step, payload) {
  process.stdout.write(`${JSON.stringify({ step, ...payload })}\n`);
}

function followAlerts(client, options, metadata) {
  const wanted = Number(options.alerts);
  const alerts = [];
  let stream = null;
  const done = new Promise((resolve, reject) => {
    if (wanted <= 0) return resolve(alerts);
    stream = client.StreamAlerts({ identifiers: [options.user], cursor: options.cursor }, metadata);
    const timer = setTimeout(() => {
      stream.cancel();
      reject(new Error(`only ${alerts.length} of ${wanted} alerts within ${options.wait}s`));
    }, Number(options.wait) * 1000);
    stream.on('data', (event) => {
      if (event.event !== 'alert') return; // heartbeats keep the stream open; skip them
      alerts.push(event.alert);
      if (alerts.length === wanted) {
        clearTimeout(timer);
        stream.cancel();
        resolve(alerts);
      }
    });
    stream.on('error', (error) => {
      if (error.code === grpc.status.CANCELLED && alerts.length === wanted) return;
      clearTimeout(timer);
      reject(error);
    });
  });
  return done;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const v1 = loadServices();
  const client = new v1.QuotaService(options.target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (options.token) metadata.set('authorization', `Bearer ${options.token}`);

  const user = { scope: 'SCOPE_USER', identifier: options.user };
  const subjects = [user, { scope: 'SCOPE_TOOL', identifier: options.tool }];
  if (options.provider) subjects.push({ scope: 'SCOPE_PROVIDER', identifier: options.provider });

  const alerts = followAlerts(client, options, metadata);

  const check = await unary(
    client,
    'CheckQuota',
    {
      subjects,
      estimated_cost_nanos: dollarsToNanos(options.estimate),
      tool_name: options.tool,
      provider: options.provider,
      reserve: true,
    },
    metadata,
  );
  print('check', { response: check });
  if (!check.allowed) {
    print('denied', { code: check.code, reason: check.reason });
  } else {
    const record = await unary(
      client,
      'RecordUsage',
      {
        subjects,
        cost_nanos: dollarsToNanos(options.cost),
        provider: options.provider,
        tool_name: options.tool,
        idempotency_key: crypto.randomUUID(), // a retry with this key would count once
        reservation_id: check.reservation_id,
      },
      metadata,
    );
    print('record', { response: record });
  }

  const usage = await unary(client, 'GetUsage', { subject: user }, metadata);
  print('usage', { response: usage });

  for (const alert of await alerts) print('alert', { alert });
  client.close();
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  print('error', { message: String(error.message || error), code: error.code });
  process.exit(1);
});
