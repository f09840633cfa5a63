// Wires the page to PorVerify: file inputs and fields, or (for automated checks) the same
// inputs base64url-encoded in the URL fragment: #proof=..&manifest=..&account=..&pubkey=..
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  function show(result) {
    const out = $('result');
    out.dataset.verdict = result.ok ? 'valid' : 'invalid';
    out.className = result.ok ? 'valid' : 'invalid';
    out.textContent = '';
    const head = document.createElement('p');
    head.textContent = result.ok ? 'VALID: your account is included in the signed totals.' : `INVALID: ${result.error}`;
    out.appendChild(head);
    for (const [asset, total, decimals] of result.totals) {
      const line = document.createElement('p');
      line.textContent = `${asset}: ${total} base units (${PorVerify.formatUnits(total, decimals)})`;
      out.appendChild(line);
    }
  }

  const readFile = (input) =>
    new Promise((resolve, reject) => {
      const f = input.files && input.files[0];
      if (!f) return reject(new Error('choose a file'));
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.readAsText(f);
    });

  function parseExpect(text) {
    const expect = {};
    for (const item of text.split(/[\s,]+/).filter(Boolean)) {
      const [asset, amount] = item.split('=');
      PorVerify.parseAmount(amount, `expected amount for ${asset}`);
      expect[asset] = amount;
    }
    return expect;
  }

  async function runFromForm() {
    $('result').dataset.verdict = 'running';
    try {
      const [proofText, manifestText] = await Promise.all([readFile($('proof')), readFile($('manifest'))]);
      show(await PorVerify.verifyInclusion({
        proofText, manifestText, pubkeyHex: $('pubkey').value, account: $('account').value.trim(),
        expect: parseExpect($('expect').value), publishedDigestHex: $('digest').value,
      }));
    } catch (e) {
      show({ ok: false, error: e.message, totals: [] });
    }
  }

  function fromBase64Url(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder().decode(Uint8Array.from(b, (c) => c.charCodeAt(0)));
  }

  async function runFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (!params.has('proof')) return;
    $('result').dataset.verdict = 'running';
    try {
      show(await PorVerify.verifyInclusion({
        proofText: fromBase64Url(params.get('proof')),
        manifestText: fromBase64Url(params.get('manifest')),
        pubkeyHex: params.get('pubkey') || '',
        account: params.get('account') || '',
        expect: parseExpect(params.get('expect') || ''),
        publishedDigestHex: params.get('digest') || '',
      }));
    } catch (e) {
      show({ ok: false, error: e.message, totals: [] });
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('check').addEventListener('click', runFromForm);
    runFromFragment();
  });
})();
