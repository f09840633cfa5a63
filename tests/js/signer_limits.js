#!/usr/bin/env node
// signerd's request limits seen from a Node client (@grpc/grpc-js + @grpc/proto-loader), against
// the real signerd process: every string and bytes field of every request of
// proto/signer.proto and proto/signer_tx.proto at its documented limit (signerd answers, but not
// with the limit rule), one byte over it (INVALID_ARGUMENT "request_limit: <field>: <n> bytes,
// at most <limit>", a short message) and at 1 MiB (the same answer, within a deadline: such a
// call once got no answer and stalled the connection). Repeated fields likewise by count.
//
// The limits are written out here as docs/signer.md and docs/sign_transaction.md state them, so
// a limit changed in code but not in the documentation fails this test.
//
// Environment (set by ctest): SIGNERD (the binary), RINGFENCE_SIGNER_MODULE (hsm_sim's
// PKCS#11 module), RINGFENCE_SOURCE_DIR (for the protos); pkcs11-tool (OpenSC) on the PATH
// initialises the token. Prints each failure and "N passed, M failed"; exits 1 on a failure.
'use strict';
const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const MiB = 1 << 20;
const kShortMessage = 512;  // the most bytes a refusal's message may take here
const kCallDeadlineMs = 60000;  // bounds a stalled call; never reached when signerd answers
const kStartDeadlineMs = 60000;

// The documented limits.
const kLimits = {
  key_id: 32,
  purpose: 128,
  request_id: 128,
  chain: 16,
  network: 64,
  unsigned_tx: 1000000,
  bitcoin_inputs: 24389,
  asset: 32,
  amount: 39,
  destination: 90,
  approvals: 32,
  approver_id: 64,
  signature: 64,
};

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: run this test through ctest`);
    process.exit(2);
  }
  return value;
}

const signerdPath = env('SIGNERD');
const modulePath = env('RINGFENCE_SIGNER_MODULE');
const sourceDir = env('RINGFENCE_SOURCE_DIR');

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) {
    passed += 1;
  } else {
    failed += 1;
    console.log(`FAILED: ${what}`);
  }
}

// --- signerd on a private hsm_sim token ------------------------------------------------------

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'signer_limits_js-'));
const tokenEnv = {
  ...process.env,
  HSM_SIM_DIR: path.join(work, 'hsm'),
  HSM_SIM_ARGON2_OPSLIMIT: '1',
  HSM_SIM_ARGON2_MEMLIMIT_KIB: '8',
};
const kUserPin = 'user-pin-2468';
const kSoPin = 'so-pin-1357';
const kLabel = 'ringfence-limits';

function run(file, args) {
  const r = childProcess.spawnSync(file, args, { env: tokenEnv, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited with ${r.status}: ${r.stderr}${r.error || ''}`);
  }
  return r.stdout;
}

function writeConfigs() {
  fs.mkdirSync(tokenEnv.HSM_SIM_DIR);
  run('pkcs11-tool', ['--module', modulePath, '--init-token', '--label', kLabel, '--so-pin', kSoPin]);
  run('pkcs11-tool', ['--module', modulePath, '--token-label', kLabel, '--login', '--login-type', 'so',
    '--so-pin', kSoPin, '--init-pin', '--pin', kUserPin]);
  fs.writeFileSync(path.join(work, 'pin'), kUserPin, { mode: 0o600 });
  const approverKey = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
  fs.writeFileSync(path.join(work, 'approvers.toml'), [
    '[[approver]]',
    'id = "ops-limits"',
    `public_key = "${Buffer.from(approverKey, 'base64url').toString('hex')}"`,
    '',
    '[quorum.BTC]',
    'internal_sweep_approvals = 1',
    'tiers = [ { from = "0", approvals = 1 } ]',
    '',
    '[quorum.ETH]',
    'internal_sweep_approvals = 1',
    'tiers = [ { from = "0", approvals = 1 } ]',
    ''].join('\n'));
  fs.writeFileSync(path.join(work, 'signer_tx.toml'), [
    'approver_registry = "approvers.toml"',
    '[bitcoin]',
    'network = "regtest"',
    '[ethereum]',
    'network = "devnet"',
    'chain_id = 1337',
    '[[asset]]',
    'id = "BTC"',
    'chain = "bitcoin"',
    '[[asset]]',
    'id = "ETH"',
    'chain = "ethereum"',
    ''].join('\n'));
  fs.writeFileSync(path.join(work, 'signerd.toml'), [
    '[server]',
    `socket = "${path.join(work, 'signerd.sock')}"`,
    `database = "${path.join(work, 'signer.db')}"`,
    '[pkcs11]',
    `module = "${modulePath}"`,
    `token_label = "${kLabel}"`,
    `pin_file = "${path.join(work, 'pin')}"`,
    '[transactions]',
    `config = "${path.join(work, 'signer_tx.toml')}"`,
    ''].join('\n'));
}

// grpc.health.v1, which signerd serves; written out since no npm package is needed for it.
const kHealthProto = `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

function loadServices() {
  fs.writeFileSync(path.join(work, 'health.proto'), kHealthProto);
  const options = { keepCase: true, longs: String, enums: String, defaults: true };
  const signer = grpc.loadPackageDefinition(protoLoader.loadSync(
    ['proto/signer.proto', 'proto/signer_tx.proto'], { ...options, includeDirs: [sourceDir] }));
  const health = grpc.loadPackageDefinition(protoLoader.loadSync(
    'health.proto', { ...options, includeDirs: [work] }));
  const target = `unix:${path.join(work, 'signerd.sock')}`;
  const credentials = grpc.credentials.createInsecure();
  const v1 = signer.ringfence.signer.v1;
  return {
    keys: new v1.Signer(target, credentials),
    tx: new v1.TransactionSigner(target, credentials),
    health: new health.grpc.health.v1.Health(target, credentials),
  };
}

// One call, answered or not within the deadline: resolves to {code, details, response}.
function call(client, method, request, deadlineMs = kCallDeadlineMs, options = {}) {
  return new Promise((resolve) => {
    client[method](request, { deadline: Date.now() + deadlineMs, ...options }, (err, response) => {
      if (err) resolve({ code: err.code, details: err.details || '' });
      else resolve({ code: grpc.status.OK, details: '', response });
    });
  });
}

// Waits for signerd's health service to answer SERVING for the Signer service, asking again
// after each answer that is not SERVING yet; fails if signerd exits or the deadline passes.
async function waitServing(clients, signerd) {
  const deadline = Date.now() + kStartDeadlineMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (signerd.exitCode !== null) throw new Error(`signerd exited with ${signerd.exitCode}`);
    const r = await call(clients.health, 'Check', { service: 'ringfence.signer.v1.Signer' },
      Math.min(500, deadline - Date.now()), { waitForReady: true });
    if (r.code === grpc.status.OK && r.response.status === 'SERVING') return;
    last = r.code === grpc.status.OK ? r.response.status : `${r.code} ${r.details}`;
    if (r.code !== grpc.status.DEADLINE_EXCEEDED && r.code !== grpc.status.UNAVAILABLE) {
      await new Promise((done) => setTimeout(done, 20));  // answered: ask again without spinning
    }
  }
  throw new Error(`signerd did not become SERVING: ${last}`);
}

// --- requests --------------------------------------------------------------------------------

const text = (n, c) => c.repeat(n);

function bitcoinRequest(id) {
  return {
    request_id: id,
    chain: 'bitcoin',
    network: 'regtest',
    unsigned_tx: Buffer.from('0200000000', 'hex'),  // not a transaction: refused after the edge
    bitcoin_inputs: [{ amount: '100000', key_id: text(32, 'b') }],
    intent: { asset: 'BTC', amount: '60000', destination: 'bcrt1q' + text(38, 'q'), fee_cap: '1500' },
    approvals: [{ approver_id: 'ops-limits', signature: Buffer.alloc(64, 1) }],
  };
}

function ethereumRequest(id) {
  return {
    request_id: id,
    chain: 'ethereum',
    network: 'devnet',
    unsigned_tx: Buffer.from('02c0', 'hex'),
    ethereum_key_id: text(32, 'e'),
    intent: { asset: 'ETH', amount: '60000', destination: '0x' + text(40, '1'), fee_cap: '150000' },
    approvals: [{ approver_id: 'ops-limits', signature: Buffer.alloc(64, 1) }],
  };
}

// SignTransaction's fields: name as signerd reports it, limit, unit, and how to set it to n.
const kTxFields = [
  { field: 'request_id', limit: kLimits.request_id, make: bitcoinRequest, set: (r, n) => { r.request_id = text(n, 'r'); } },
  { field: 'chain', limit: kLimits.chain, make: bitcoinRequest, set: (r, n) => { r.chain = text(n, 'c'); } },
  { field: 'network', limit: kLimits.network, make: bitcoinRequest, set: (r, n) => { r.network = text(n, 'n'); } },
  { field: 'unsigned_tx', limit: kLimits.unsigned_tx, make: bitcoinRequest, set: (r, n) => { r.unsigned_tx = Buffer.alloc(n, 0x5a); } },
  { field: 'bitcoin_inputs', unit: 'entries', limit: kLimits.bitcoin_inputs, make: bitcoinRequest,
    set: (r, n) => { r.bitcoin_inputs = Array.from({ length: n }, () => ({ ...r.bitcoin_inputs[0] })); } },
  { field: 'bitcoin_inputs[0].key_id', limit: kLimits.key_id, make: bitcoinRequest, set: (r, n) => { r.bitcoin_inputs[0].key_id = text(n, 'k'); } },
  { field: 'ethereum_key_id', limit: kLimits.key_id, make: ethereumRequest, set: (r, n) => { r.ethereum_key_id = text(n, 'k'); } },
  { field: 'intent.asset', limit: kLimits.asset, make: bitcoinRequest, set: (r, n) => { r.intent.asset = text(n, 'A'); } },
  { field: 'intent.amount', limit: kLimits.amount, make: bitcoinRequest, set: (r, n) => { r.intent.amount = text(n, '9'); } },
  { field: 'intent.destination', limit: kLimits.destination, make: bitcoinRequest, set: (r, n) => { r.intent.destination = text(n, 'd'); } },
  { field: 'intent.fee_cap', limit: kLimits.amount, make: ethereumRequest, set: (r, n) => { r.intent.fee_cap = text(n, '9'); } },
  { field: 'approvals', unit: 'entries', limit: kLimits.approvals, make: ethereumRequest,
    set: (r, n) => { r.approvals = Array.from({ length: n }, () => ({ ...r.approvals[0] })); } },
  { field: 'approvals[0].approver_id', limit: kLimits.approver_id, make: ethereumRequest, set: (r, n) => { r.approvals[0].approver_id = text(n, 'a'); } },
  { field: 'approvals[0].signature', limit: kLimits.signature, make: ethereumRequest, set: (r, n) => { r.approvals[0].signature = Buffer.alloc(n, 2); } },
];

// The key service's fields, with the answer a request at the limit gets.
const kKeyFields = [
  { rpc: 'CreateKey', field: 'purpose', limit: kLimits.purpose, atLimit: grpc.status.OK,
    make: (n) => ({ key_type: 'KEY_TYPE_SECP256K1', purpose: text(n, 'p'),
      binding: { wallet_id: 'btc:client-hot', asset: 'btc', owner_class: 'OWNER_CLASS_CLIENT', tier: 'TIER_HOT' } }) },
  { rpc: 'GetKey', field: 'key_id', limit: kLimits.key_id, atLimit: grpc.status.NOT_FOUND,
    make: (n) => ({ key_id: text(n, 'f') }) },
  { rpc: 'ListKeys', field: 'purpose', limit: kLimits.purpose, atLimit: grpc.status.OK,
    make: (n) => ({ purpose: text(n, 'p') }) },
];

function expectLimit(r, field, n, limit, unit, what) {
  const want = `request_limit: ${field}: ${n} ${unit}, at most ${limit}`;
  check(r.code === grpc.status.INVALID_ARGUMENT && r.details === want,
    `${what}: want INVALID_ARGUMENT "${want}", got ${r.code} "${r.details.slice(0, 200)}"`);
  check(Buffer.byteLength(r.details) < kShortMessage, `${what}: message of ${Buffer.byteLength(r.details)} bytes`);
}

async function testSignTransaction(clients) {
  // What a request that passes the edge may get: signed, or refused by a later rule.
  const later = [grpc.status.OK, grpc.status.FAILED_PRECONDITION, grpc.status.PERMISSION_DENIED];
  let id = 0;
  for (const f of kTxFields) {
    const unit = f.unit || 'bytes';
    const sizes = [[f.limit, 'at the limit'], [f.limit + 1, 'one over']];
    if (unit === 'bytes') sizes.push([MiB, '1 MiB']);
    for (const [n, label] of sizes) {
      const request = f.make(`js-limits-${++id}`);
      f.set(request, n);
      const r = await call(clients.tx, 'SignTransaction', request);
      const what = `SignTransaction ${f.field} ${label} (${n} ${unit})`;
      if (n <= f.limit) {
        check(later.includes(r.code) && !r.details.startsWith('request_limit'),
          `${what}: want an answer past the edge, got ${r.code} "${r.details.slice(0, 200)}"`);
      } else {
        expectLimit(r, f.field, n, f.limit, unit, what);
      }
    }
  }
}

async function testKeyService(clients) {
  for (const f of kKeyFields) {
    for (const [n, label] of [[f.limit, 'at the limit'], [f.limit + 1, 'one over'], [MiB, '1 MiB']]) {
      const r = await call(clients.keys, f.rpc, f.make(n));
      const what = `${f.rpc} ${f.field} ${label} (${n} bytes)`;
      if (n <= f.limit) {
        check(r.code === f.atLimit, `${what}: want ${f.atLimit}, got ${r.code} "${r.details.slice(0, 200)}"`);
      } else {
        expectLimit(r, f.field, n, f.limit, 'bytes', what);
      }
    }
  }
  // Only the request at the limit created a key.
  const listed = await call(clients.keys, 'ListKeys', {});
  check(listed.code === grpc.status.OK && listed.response.keys.length === 1,
    `ListKeys after the CreateKey cases: want 1 key, got ${listed.code} ${listed.response && listed.response.keys.length}`);
}

async function main() {
  writeConfigs();
  const signerd = childProcess.spawn(signerdPath, ['--config', path.join(work, 'signerd.toml')],
    { env: tokenEnv, stdio: ['ignore', 'ignore', fs.openSync(path.join(work, 'signerd.err'), 'w')] });
  const exited = new Promise((done) => signerd.on('exit', (code) => done(code)));
  const clients = loadServices();
  try {
    await waitServing(clients, signerd);
    await testKeyService(clients);
    await testSignTransaction(clients);
  } finally {
    for (const c of Object.values(clients)) c.close();
    signerd.kill('SIGTERM');
  }
  check(await exited === 0, `signerd exited with ${signerd.exitCode}: ${fs.readFileSync(path.join(work, 'signerd.err'), 'utf8')}`);
  // Every refusal above was logged, and the log still verifies.
  const verify = childProcess.spawnSync(signerdPath, ['--config', path.join(work, 'signerd.toml'), '--verify-log'],
    { env: tokenEnv, encoding: 'utf8' });
  check(verify.status === 0, `signerd --verify-log exited with ${verify.status}: ${verify.stderr}`);
}

main()
  .catch((e) => {
    failed += 1;
    console.log(`FAILED: ${e.stack || e}`);
  })
  .finally(() => {
    if (failed === 0) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`signerd's files are kept in ${work}`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  });
