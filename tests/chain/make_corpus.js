// Writes the fuzz seed corpora under tests/chain/corpus/<target>/ with independent encoders
// (bitcoinjs-lib, ethers), plus hand-made malformed variants. Run once by a developer:
//   NODE_PATH=tests/js/node_modules node tests/chain/make_corpus.js
// The outputs are committed; tests only replay them.
'use strict';
const fs = require('fs');
const path = require('path');
const bitcoin = require('bitcoinjs-lib');
const { ethers } = require('ethers');

const root = path.join(__dirname, 'corpus');
function put(target, name, data) {
  const dir = path.join(root, target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), Buffer.isBuffer(data) ? data : Buffer.from(data));
}
const hex = (s) => Buffer.from(s.replace(/^0x/, ''), 'hex');

// Bitcoin transactions.
{
  const tx = new bitcoin.Transaction();
  tx.version = 2;
  tx.addInput(Buffer.alloc(32, 0x11), 0, 0xfffffffd);
  tx.addInput(Buffer.alloc(32, 0x22), 3, 0xffffffff);
  tx.addOutput(Buffer.concat([Buffer.from([0x00, 0x14]), Buffer.alloc(20, 0x33)]), 50000n);
  tx.addOutput(Buffer.concat([Buffer.from([0x00, 0x14]), Buffer.alloc(20, 0x44)]), 1234n);
  tx.locktime = 800000;
  const legacy = tx.toBuffer();
  put('bitcoin_tx', 'legacy_2in_2out', legacy);
  tx.setWitness(0, [Buffer.alloc(71, 0x30), Buffer.alloc(33, 0x02)]);
  const segwit = tx.toBuffer();
  put('bitcoin_tx', 'segwit_2in_2out', segwit);
  put('bitcoin_tx', 'trailing_byte', Buffer.concat([segwit, Buffer.from([0])]));
  put('bitcoin_tx', 'truncated', segwit.subarray(0, segwit.length - 3));
  put('bitcoin_tx', 'bad_flag', Buffer.concat([legacy.subarray(0, 4), Buffer.from([0x00, 0x02]), legacy.subarray(4)]));
  put('bitcoin_tx', 'noncanonical_count',
      Buffer.concat([legacy.subarray(0, 4), Buffer.from([0xfd, 0x02, 0x00]), legacy.subarray(5)]));
  const dup = bitcoin.Transaction.fromBuffer(legacy);
  dup.ins[1].hash = dup.ins[0].hash;
  dup.ins[1].index = dup.ins[0].index;
  put('bitcoin_tx', 'duplicate_input', dup.toBuffer());
}

// Segwit addresses.
{
  const h = Buffer.alloc(20, 0x5a);
  for (const [name, net] of [['bc', bitcoin.networks.bitcoin], ['tb', bitcoin.networks.testnet],
                             ['bcrt', bitcoin.networks.regtest]]) {
    const a = bitcoin.payments.p2wpkh({ hash: h, network: net }).address;
    put('segwit_address', `p2wpkh_${name}`, a);
    if (name === 'bc') {
      put('segwit_address', 'p2wpkh_upper', a.toUpperCase());
      put('segwit_address', 'mixed_case', a.slice(0, 5) + a.slice(5).toUpperCase());
      put('segwit_address', 'bad_checksum', a.slice(0, -1) + (a.endsWith('q') ? 'p' : 'q'));
    }
  }
  put('segwit_address', 'p2tr_bc', bitcoin.address.toBech32(Buffer.alloc(32, 0x79), 1, 'bc'));
  put('segwit_address', 'p2wsh_tb', bitcoin.address.toBech32(Buffer.alloc(32, 0x01), 0, 'tb'));
  put('segwit_address', 'v1_with_bech32', require('bech32').bech32.encode('bc',
      [1].concat(require('bech32').bech32.toWords(Buffer.alloc(32, 0x79)))));
}

// Ethereum addresses.
{
  const a = ethers.getAddress('0x' + '8f'.repeat(20));
  put('eth_address', 'checksummed', a);
  put('eth_address', 'lower', a.toLowerCase());
  put('eth_address', 'upper', '0x' + a.slice(2).toUpperCase());
  put('eth_address', 'bad_checksum', a.slice(0, -1) + (a.slice(-1) === 'F' ? 'f' : 'F'));
  put('eth_address', 'short', a.slice(0, 40));
}

// RLP.
{
  put('rlp', 'string', ethers.encodeRlp('0x646f67'));
  put('rlp', 'nested', ethers.encodeRlp([[], [[]], [[], [[]]]]));
  put('rlp', 'long_string', ethers.encodeRlp('0x' + 'ab'.repeat(60)));
  put('rlp', 'long_list', ethers.encodeRlp(Array(30).fill('0x0102')));
  put('rlp', 'wrapped_single_byte', hex('8105'));
  put('rlp', 'noncanonical_long', hex('b801ff'));
}

// Ethereum transactions (signed with a fixed test key), and ERC-20 calldata.
{
  const wallet = new ethers.Wallet('0x' + '5c'.repeat(32));
  const erc20 = new ethers.Interface(['function transfer(address to, uint256 amount)']);
  const data = erc20.encodeFunctionData('transfer', ['0x' + '77'.repeat(20), 5000000n]);
  put('erc20', 'transfer', hex(data));
  put('erc20', 'dirty_address_word', hex(data.slice(0, 10) + '01' + data.slice(12)));
  put('erc20', 'short', hex(data).subarray(0, 67));
  put('erc20', 'approve', hex(erc20.encodeFunctionData('transfer', ['0x' + '77'.repeat(20), 1n])
      .replace('a9059cbb', '095ea7b3')));

  const london = ethers.Transaction.from({
    type: 2, chainId: 11155111, nonce: 7, maxPriorityFeePerGas: 1500000000n, maxFeePerGas: 30000000000n,
    gasLimit: 60000n, to: '0x' + '42'.repeat(20), value: 0n, data,
    accessList: [{ address: '0x' + '01'.repeat(20), storageKeys: ['0x' + '00'.repeat(32)] }],
  });
  put('eth_tx', 'eip1559_unsigned', hex(london.unsignedSerialized));
  const legacy = ethers.Transaction.from({
    type: 0, chainId: 1, nonce: 3, gasPrice: 20000000000n, gasLimit: 21000n, to: '0x' + '35'.repeat(20),
    value: 1000000000000000000n,
  });
  put('eth_tx', 'eip155_unsigned', hex(legacy.unsignedSerialized));
  Promise.all([wallet.signTransaction(london), wallet.signTransaction(legacy)]).then(([s1, s2]) => {
    put('eth_tx', 'eip1559_signed', hex(s1));
    put('eth_tx', 'eip155_signed', hex(s2));
    const t = hex(s1);
    put('eth_tx', 'eip1559_trailing', Buffer.concat([t, Buffer.from([0x80])]));
    put('eth_tx', 'type1', Buffer.concat([Buffer.from([0x01]), t.subarray(1)]));
  });
}
