// Independent check of transactions built and signed by Ringfence's chain codecs.
// Input: a JSON file (argv[2]) written by chain_interop_test. Each case is parsed with
// bitcoinjs-lib or ethers, never with Ringfence code, and one line is printed per case:
//   CASE <name> OK <details>    or    CASE <name> FAIL <reason>
// followed by "CHECKED <n>". Exit status is 0 whenever the input could be read; the C++
// test decides which cases must pass (a deliberately broken case must FAIL).
'use strict';
const fs = require('fs');
const bitcoin = require('bitcoinjs-lib');
const ecc = require('tiny-secp256k1');
const { ethers } = require('ethers');

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const toHex = (b) => Buffer.from(b).toString('hex');
let checked = 0;

function checkBitcoin(c) {
  const tx = bitcoin.Transaction.fromHex(c.raw);
  if (tx.toHex() !== c.raw) throw new Error('bitcoinjs re-serialisation differs');
  if (tx.ins.length !== c.inputs.length) throw new Error('input count differs');
  const network = bitcoin.networks[c.network];
  for (let i = 0; i < tx.ins.length; i++) {
    const spent = Buffer.from(c.inputs[i].script_pubkey, 'hex');
    const witness = tx.ins[i].witness;
    if (witness.length !== 2) throw new Error(`input ${i}: witness has ${witness.length} items, want 2`);
    const pubkey = Buffer.from(witness[1]);
    const p2wpkh = bitcoin.payments.p2wpkh({ pubkey, network });
    if (toHex(p2wpkh.output) !== toHex(spent)) throw new Error(`input ${i}: witness key does not match the spent script`);
    const scriptCode = bitcoin.payments.p2pkh({ hash: p2wpkh.hash }).output;
    const decoded = bitcoin.script.signature.decode(Buffer.from(witness[0]));
    if (decoded.hashType !== bitcoin.Transaction.SIGHASH_ALL) throw new Error(`input ${i}: hash type ${decoded.hashType}`);
    const hash = tx.hashForWitnessV0(i, scriptCode, BigInt(c.inputs[i].amount), bitcoin.Transaction.SIGHASH_ALL);
    if (c.inputs[i].sighash && toHex(hash) !== c.inputs[i].sighash) {
      throw new Error(`input ${i}: BIP-143 hash ${toHex(hash)} differs from Ringfence's ${c.inputs[i].sighash}`);
    }
    if (!ecc.verify(hash, pubkey, decoded.signature, true)) throw new Error(`input ${i}: signature does not verify`);
  }
  const outs = tx.outs.map((o) => `${bitcoin.address.fromOutputScript(o.script, network)}=${o.value}`);
  for (const want of c.outputs) {
    if (!outs.includes(`${want.address}=${want.value}`)) throw new Error(`output ${want.address}=${want.value} missing`);
  }
  if (tx.getId() !== c.txid) throw new Error(`txid ${tx.getId()} differs from ${c.txid}`);
  if (tx.weight() !== c.weight) throw new Error(`weight ${tx.weight()} differs from Ringfence's ${c.weight}`);
  if (tx.virtualSize() !== c.vsize) throw new Error(`vsize ${tx.virtualSize()} differs from Ringfence's ${c.vsize}`);
  return `txid=${tx.getId()} vsize=${tx.virtualSize()} outputs=${outs.join(',')}`;
}

function checkEthereum(c) {
  const tx = ethers.Transaction.from(c.raw);
  if (tx.serialized !== c.raw) throw new Error('ethers re-serialisation differs');
  if (tx.type !== c.type) throw new Error(`type ${tx.type}, want ${c.type}`);
  if (tx.chainId !== BigInt(c.chain_id)) throw new Error(`chain id ${tx.chainId}, want ${c.chain_id}`);
  if (tx.from !== ethers.getAddress(c.sender)) throw new Error(`sender ${tx.from}, want ${c.sender}`);
  if (tx.to !== ethers.getAddress(c.to)) throw new Error(`to ${tx.to}, want ${c.to}`);
  if (tx.value !== BigInt(c.value)) throw new Error(`value ${tx.value}, want ${c.value}`);
  if (tx.data !== c.data) throw new Error(`data ${tx.data}, want ${c.data}`);
  if (tx.unsignedHash !== c.signing_hash) throw new Error(`signing hash ${tx.unsignedHash}, want ${c.signing_hash}`);
  let detail = `from=${tx.from} to=${tx.to} value=${tx.value}`;
  if (c.erc20) {
    const iface = new ethers.Interface(['function transfer(address to, uint256 amount)']);
    const [to, amount] = iface.decodeFunctionData('transfer', tx.data);
    if (to !== ethers.getAddress(c.erc20.to)) throw new Error(`ERC-20 recipient ${to}, want ${c.erc20.to}`);
    if (amount !== BigInt(c.erc20.amount)) throw new Error(`ERC-20 amount ${amount}, want ${c.erc20.amount}`);
    detail += ` erc20_to=${to} erc20_amount=${amount}`;
  }
  return detail;
}

for (const c of input.cases) {
  try {
    const detail = c.chain === 'bitcoin' ? checkBitcoin(c) : checkEthereum(c);
    console.log(`CASE ${c.name} OK ${detail}`);
  } catch (e) {
    console.log(`CASE ${c.name} FAIL ${e.message}`);
  }
  checked++;
}
console.log(`CHECKED ${checked}`);
