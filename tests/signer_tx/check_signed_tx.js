#!/usr/bin/env node
// Independent check of transactions signed by signerd, with bitcoinjs-lib + tiny-secp256k1
// (Bitcoin P2WPKH: parse, recompute each input's BIP-143 hash, verify each signature, strict
// low S) and ethers (Ethereum: parse, recover the sender, compare the fields).
//
// Usage: node check_signed_tx.js CASES.json   (written by service_test.cc)
// Exit status 0 when every case checks, 1 otherwise (each failure is printed).
'use strict';
const fs = require('fs');
const bitcoin = require('bitcoinjs-lib');
const ecc = require('tiny-secp256k1');
const { ethers } = require('ethers');

const hex = (b) => Buffer.from(b).toString('hex');
let failures = 0;
function fail(i, msg) {
  console.log(`case ${i}: ${msg}`);
  failures += 1;
}

function checkBitcoin(i, c) {
  const tx = bitcoin.Transaction.fromHex(c.signed_tx);
  if (tx.getId() !== c.txid) fail(i, `txid ${tx.getId()} != ${c.txid}`);
  if (tx.ins.length !== c.inputs.length) return fail(i, 'input count');
  // The signed transaction without witnesses must be the unsigned one.
  const stripped = tx.clone();
  for (const input of stripped.ins) input.witness = [];
  if (stripped.toHex() !== c.unsigned_tx) fail(i, 'signed transaction differs from the unsigned one');
  tx.ins.forEach((input, k) => {
    const pubkey = Buffer.from(c.inputs[k].pubkey, 'hex');
    if (input.witness.length !== 2) return fail(i, `input ${k}: witness has ${input.witness.length} items`);
    if (hex(input.witness[1]) !== hex(pubkey)) fail(i, `input ${k}: witness key is not the input key`);
    if (input.script.length !== 0) fail(i, `input ${k}: scriptSig is not empty`);
    const { signature, hashType } = bitcoin.script.signature.decode(input.witness[0]);
    if (hashType !== bitcoin.Transaction.SIGHASH_ALL) fail(i, `input ${k}: hash type ${hashType}`);
    const scriptCode = bitcoin.payments.p2pkh({ pubkey }).output;
    const hash = tx.hashForWitnessV0(k, scriptCode, BigInt(c.inputs[k].amount), bitcoin.Transaction.SIGHASH_ALL);
    // strict = true also requires low S.
    if (!ecc.verify(hash, pubkey, signature, true)) fail(i, `input ${k}: signature does not verify`);
  });
}

function checkEthereum(i, c) {
  const tx = ethers.Transaction.from(c.signed_tx);
  if (tx.type !== c.type) fail(i, `type ${tx.type} != ${c.type}`);
  if (tx.from !== c.from) fail(i, `recovered sender ${tx.from} != key address ${c.from}`);
  if (tx.hash !== c.hash) fail(i, `hash ${tx.hash} != ${c.hash}`);
  if (tx.chainId !== BigInt(c.chain_id)) fail(i, `chain id ${tx.chainId}`);
  if (tx.nonce !== c.nonce) fail(i, `nonce ${tx.nonce}`);
  if (tx.to !== c.to) fail(i, `to ${tx.to} != ${c.to}`);
  if (tx.value !== BigInt(c.value)) fail(i, `value ${tx.value} != ${c.value}`);
  if (tx.signature.s > ethers.N / 2n) fail(i, 'high S');
  if (c.token_recipient !== undefined) {
    const iface = new ethers.Interface(['function transfer(address to, uint256 amount)']);
    const call = iface.parseTransaction({ data: tx.data });
    if (!call || call.name !== 'transfer') return fail(i, 'calldata is not transfer(address,uint256)');
    if (call.args[0] !== c.token_recipient) fail(i, `token recipient ${call.args[0]}`);
    if (call.args[1] !== BigInt(c.token_amount)) fail(i, `token amount ${call.args[1]}`);
  } else if (tx.data !== '0x') {
    fail(i, `unexpected calldata ${tx.data}`);
  }
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
cases.forEach((c, i) => {
  try {
    if (c.chain === 'bitcoin') checkBitcoin(i, c);
    else if (c.chain === 'ethereum') checkEthereum(i, c);
    else fail(i, `unknown chain ${c.chain}`);
  } catch (e) {
    fail(i, `exception: ${e.message}`);
  }
});
console.log(`${cases.length - failures}/${cases.length} signed transactions check out`);
process.exit(failures === 0 && cases.length > 0 ? 0 : 1);
