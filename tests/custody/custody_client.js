// An independent client of custodyd's API: Node's @grpc/grpc-js with @grpc/proto-loader reading
// proto/custody.proto at run time (no generated code), over mTLS with the role certificates
// of scripts/dev-certs.sh. Run by custody_e2e_test:
//
//   node custody_client.js ADDRESS CERT_DIR PROTO_ROOT
//
// It creates a client and a deposit address as the platform, reads them back, checks that the
// auditor is denied CreateClient (PERMISSION_DENIED) and then finds that denial in the audit
// log, and checks the segregation report's documented fields. Exit status 0 and a last line
// "ok" when every check holds; otherwise an assertion message and a non-zero status.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [address, certDir, protoRoot] = process.argv.slice(2);
if (!address || !certDir || !protoRoot) {
  console.error('usage: node custody_client.js ADDRESS CERT_DIR PROTO_ROOT');
  process.exit(2);
}

const definition = protoLoader.loadSync('proto/custody.proto', {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const custody = grpc.loadPackageDefinition(definition).ringfence.custody.v1;

function stub(role) {
  const read = (name) => fs.readFileSync(path.join(certDir, name));
  const credentials = grpc.credentials.createSsl(read('ca.crt'), read(`${role}.key`), read(`${role}.crt`));
  // The server certificate names localhost and 127.0.0.1; the name is the one checked.
  return new custody.Custody(address, credentials, {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
  });
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 30000 }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

async function expectCode(promise, code, fragment) {
  try {
    await promise;
  } catch (error) {
    assert.equal(error.code, code, `expected status ${code}, got ${error.code}: ${error.details}`);
    if (fragment) assert.ok(error.details.includes(fragment), `"${error.details}" lacks "${fragment}"`);
    return error;
  }
  assert.fail(`expected status ${code}, the call succeeded`);
}

async function main() {
  const platform = stub('platform');
  const auditor = stub('auditor');
  const admin = stub('admin');

  const assets = await call(platform, 'ListAssets', {});
  assert.deepEqual(assets.assets.map((a) => a.asset_id), ['BTC', 'ETH', 'USDC-ETH']);
  assert.equal(assets.assets[0].decimals, 8);

  const created = await call(platform, 'CreateClient', { idempotency_key: 'node-client-1', client_ref: 'node-ref-1' });
  const clientId = created.client.client_id;
  assert.match(clientId, /^c_[0-9a-f]{16}$/);
  const again = await call(platform, 'CreateClient', { idempotency_key: 'node-client-1', client_ref: 'node-ref-1' });
  assert.deepEqual(again, created);
  await expectCode(call(platform, 'CreateClient', { idempotency_key: 'node-client-1', client_ref: 'other' }),
    grpc.status.FAILED_PRECONDITION, 'node-client-1');

  const deposit = await call(platform, 'CreateDepositAddress',
    { idempotency_key: 'node-address-1', client_id: clientId, asset_id: 'ETH' });
  assert.match(deposit.deposit_address.address, /^0x[0-9a-fA-F]{40}$/);
  assert.equal(deposit.deposit_address.wallet_id, 'ETH:client-hot');
  const listed = await call(platform, 'ListDepositAddresses', { client_id: clientId, asset_id: '', page_size: 0, page_token: '' });
  assert.deepEqual(listed.deposit_addresses.map((d) => d.address), [deposit.deposit_address.address]);

  const balances = await call(platform, 'GetBalances', { client_id: clientId, asset_id: '' });
  assert.deepEqual(balances.balances.map((b) => [b.asset_id, b.available, b.decimals]),
    [['BTC', '0', 8], ['ETH', '0', 18], ['USDC-ETH', '0', 6]]);

  // A role the RPC does not list is denied, and the denial is evidence.
  await expectCode(call(auditor, 'CreateClient', { idempotency_key: 'node-denied', client_ref: 'node-denied' }),
    grpc.status.PERMISSION_DENIED, 'role auditor may not call CreateClient');
  await expectCode(call(platform, 'ListAuditEntries', { after_seq: 0, page_size: 0 }),
    grpc.status.PERMISSION_DENIED, 'role platform may not call ListAuditEntries');
  const audit = await call(auditor, 'ListAuditEntries', { after_seq: 0, page_size: 1000 });
  const denial = audit.entries.find((e) => e.action === 'denied' && e.actor === 'auditor:CN=auditor-1');
  assert.ok(denial, 'the denial is in the audit log');
  assert.equal(denial.subject, 'CreateClient');
  assert.equal(JSON.parse(denial.details).method, 'CreateClient');
  for (let i = 1; i < audit.entries.length; i++) {
    assert.equal(audit.entries[i].prev_hash, audit.entries[i - 1].hash, 'the audit log is one chain');
  }

  const report = await call(admin, 'GetSegregationReport', {});
  assert.equal(report.holds, true);
  for (const a of report.assets) {
    assert.equal(a.holds, true);
    assert.equal(a.house_client_funds, '0');
    assert.equal(a.difference, '0');
  }

  const frozen = await call(admin, 'FreezeClient', { idempotency_key: 'node-freeze', client_id: clientId, reason: 'node test' });
  assert.equal(frozen.client.frozen, true);
  await expectCode(call(platform, 'CreateDepositAddress', { idempotency_key: 'node-address-2', client_id: clientId, asset_id: 'BTC' }),
    grpc.status.FAILED_PRECONDITION, 'frozen');
  console.log('ok');
}

main().then(() => process.exit(0), (error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
