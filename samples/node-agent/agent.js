// A sample external agent in Node.js: an orchestrator.agent.v1.AgentRuntime gRPC server.
//
//   npm ci && node agent.js --port 50051
//   orchestrator agents deploy --name words --version 1.0.0 --endpoint grpc://127.0.0.1:50051
//
// It counts the words of `input.text`. `input.delay_ms` makes it work that long first (a Cancel
// stops it), and `input.fail_attempts: N` fails attempts 1..N with a retryable error, to watch
// the control plane retry. It logs one JSON object per line on stdout.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// The contract is read at run time from the repository's proto/ folder (or AGENT_PROTO_ROOT).
const PROTO_ROOT = process.env.AGENT_PROTO_ROOT || path.resolve(__dirname, '..', '..', 'proto');
const definition = protoLoader.loadSync('orchestrator/agent/v1/runtime.proto', {
  includeDirs: [PROTO_ROOT],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});
const runtime = grpc.loadPackageDefinition(definition).orchestrator.agent.v1;

function log(event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

// google.protobuf.Value <-> plain JavaScript values (protobufjs names the fields of the
// well-known types in camelCase, whatever keepCase says).
function fromValue(value) {
  if (!value) return null;
  switch (value.kind) {
    case 'structValue':
      return fromStruct(value.structValue);
    case 'listValue':
      return (value.listValue.values || []).map(fromValue);
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    default:
      return null;
  }
}

function fromStruct(struct) {
  const out = {};
  for (const [key, item] of Object.entries((struct && struct.fields) || {})) {
    out[key] = fromValue(item);
  }
  return out;
}

function toValue(value) {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  switch (typeof value) {
    case 'number':
      return { numberValue: value };
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    default: {
      const fields = {};
      for (const [key, item] of Object.entries(value)) fields[key] = toValue(item);
      return { structValue: { fields } };
    }
  }
}

function countWords(text) {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  const longest = words.reduce((a, b) => (b.length > a.length ? b : a), '');
  return { words: words.length, characters: text.length, longest };
}

// Attempts at work, by request id: a Cancel finds and stops them.
const running = new Map();

function execute(call, callback) {
  const context = call.request.context || {};
  const requestId = context.request_id || '';
  const input = fromValue(call.request.input) || {};
  log('execute', { request_id: requestId, attempt: context.attempt });
  if (typeof input.text !== 'string') {
    callback({ code: grpc.status.INVALID_ARGUMENT, details: 'input.text must be a string' });
    return;
  }
  if (Number(context.attempt) <= Number(input.fail_attempts || 0)) {
    callback(null, {
      error: {
        type: 'TransientFailure',
        message: `attempt ${context.attempt} fails on purpose`,
        retryable: true,
      },
    });
    return;
  }
  const finish = () => {
    running.delete(requestId);
    callback(null, { output: toValue(countWords(input.text)) });
  };
  const delay = Number(input.delay_ms || 0);
  if (delay <= 0) {
    finish();
    return;
  }
  const timer = setTimeout(finish, delay);
  running.set(requestId, () => {
    clearTimeout(timer);
    running.delete(requestId);
    callback({ code: grpc.status.CANCELLED, details: 'cancelled by the control plane' });
  });
}

function health(call, callback) {
  callback(null, { ok: true });
}

function cancel(call, callback) {
  const requestId = call.request.request_id || '';
  const stop = running.get(requestId);
  log('cancel', { request_id: requestId, was_running: Boolean(stop) });
  if (stop) stop();
  callback(null, {});
}

function main() {
  const index = process.argv.indexOf('--port');
  const port = index >= 0 ? process.argv[index + 1] : process.env.PORT || '50051';
  const host = process.env.HOST || '127.0.0.1';
  const server = new grpc.Server();
  server.addService(runtime.AgentRuntime.service, { Execute: execute, Health: health, Cancel: cancel });
  server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
    if (error) {
      process.stderr.write(`cannot listen on ${host}:${port}: ${error.message}\n`);
      process.exit(1);
    }
    log('listening', { host, port: bound });
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
