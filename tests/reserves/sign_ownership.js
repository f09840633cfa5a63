// Independent signers for reserve ownership proofs, used by the reserves tests:
//   eip191         - ethers Wallet.signMessage (EIP-191 personal_sign)
//   bip322-simple  - bip322-js Signer.sign for a P2WPKH address
// Reads a JSON request from argv[2]: {"custodian","snapshot","challenge","entries":[{"type",
// "chain","key_seed"}]} and prints {"entries":[{"address","message","signature"}]}.
// Keys are derived from key_seed (SHA-256) so runs are reproducible.
const crypto = require('crypto');
const { Wallet } = require('ethers');
const { Signer } = require('bip322-js');
const bitcoin = require('bitcoinjs-lib');
const ecc = require('tiny-secp256k1');
const { ECPairFactory } = require('ecpair');

bitcoin.initEccLib(ecc);
const ECPair = ECPairFactory(ecc);

async function main() {
  const req = JSON.parse(process.argv[2]);
  const out = [];
  for (const e of req.entries) {
    const key = crypto.createHash('sha256').update(e.key_seed).digest();
    let address;
    let signature;
    const message = (addr) =>
      `custody-por/1|custodian=${req.custodian}|snapshot=${req.snapshot}|challenge=${req.challenge}|chain=${e.chain}|address=${addr}`;
    if (e.type === 'eip191') {
      const wallet = new Wallet('0x' + key.toString('hex'));
      address = wallet.address;  // EIP-55 checksummed
      const sig = await wallet.signMessage(message(address));
      signature = sig.slice(2).toLowerCase();
    } else if (e.type === 'bip322-simple') {
      const pair = ECPair.fromPrivateKey(key, { network: bitcoin.networks.bitcoin });
      address = bitcoin.payments.p2wpkh({ pubkey: Buffer.from(pair.publicKey), network: bitcoin.networks.bitcoin }).address;
      signature = Signer.sign(pair.toWIF(), address, message(address));
    } else {
      throw new Error('unknown type ' + e.type);
    }
    out.push({ address, message: message(address), signature });
  }
  process.stdout.write(JSON.stringify({ entries: out }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
