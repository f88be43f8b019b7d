// Reference vectors for Tessera's substrate layer (chain-bridge/substrate), made with
// @polkadot/api and @polkadot/types: call encodings, signing payloads, signed extrinsics,
// storage keys, events and module errors, for the two runtimes in tests/data/subtensor
// (testfinney, metadata V14, read from the runtime running under chopsticks; today's
// devnet, metadata V16). Run by hand when the layer or the runtimes change:
//   cd tests/subtensor && npm ci && node gen-vectors.mjs
// It writes tests/data/subtensor/testfinney-metadata.scale and vectors.json; both are committed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WsProvider } from '@polkadot/api';
import { Metadata, TypeRegistry } from '@polkadot/types';
import { expandMetadata } from '@polkadot/types/metadata';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { compactStripLength, u8aToHex, hexToU8a } from '@polkadot/util';

const here = dirname(fileURLToPath(import.meta.url));
const data = join(here, '..', 'data', 'subtensor');
const port = 9977;

async function testfinneyFromChopsticks() {
  const db = mkdtempSync(join(tmpdir(), 'chopsticks-'));
  const child = spawn(join(here, 'node_modules', '.bin', 'chopsticks'),
    ['--genesis', join(data, 'raw_spec_testfinney.json'), '--port', String(port), '--allow-unresolved-imports',
     '--build-block-mode', 'Manual', '--db', join(db, 'db.sqlite')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('RPC listening')) resolve(); });
    child.on('exit', (code) => reject(new Error('chopsticks exited with ' + code)));
  });
  const ws = new WsProvider(`ws://127.0.0.1:${port}`);
  await ws.isReady;
  const metadata = await ws.send('state_getMetadata', []);
  const genesis = await ws.send('chain_getBlockHash', [0]);
  const version = await ws.send('state_getRuntimeVersion', []);
  await ws.disconnect();
  child.kill('SIGTERM');
  return { metadata, genesis, version };
}

// Accounts from fixed ed25519 seeds (the C++ tests derive the same keys).
await cryptoWaitReady();
const keyring = new Keyring({ type: 'ed25519', ss58Format: 42 });
const alice = keyring.addFromSeed(new Uint8Array(32).fill(1));
const bob = keyring.addFromSeed(new Uint8Array(32).fill(2));

function registryFor(metadataHex) {
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, metadataHex);
  registry.setMetadata(metadata, undefined, {
    // Subtensor's own extensions carry no data; polkadot-js does not know them.
    SubtensorTransactionExtension: { extrinsic: {}, payload: {} },
    DrandPriority: { extrinsic: {}, payload: {} },
  });
  return { registry, metadata, decorated: expandMetadata(registry, metadata) };
}

function vectorsFor(name, metadataHex, genesis, specVersion, txVersion) {
  const { registry, metadata, decorated } = registryFor(metadataHex);
  const tx = decorated.tx;
  const out = { runtime: name, metadata_version: metadata.version, genesis_hash: genesis,
                spec_version: specVersion, transaction_version: txVersion, calls: [], payloads: [], extrinsics: [],
                storage_keys: [], events: [], errors: [] };
  const call = (pallet, method, args, c) => {
    out.calls.push({ pallet, call: method, args, hex: c.toHex() });
    return c;
  };
  const transferName = tx.balances.transferKeepAlive ? 'transfer_keep_alive' : 'transfer';
  const transfer = call('Balances', transferName, { dest: { Id: u8aToHex(bob.publicKey) }, value: 123456789 },
    (tx.balances.transferKeepAlive ?? tx.balances.transfer)({ Id: bob.publicKey }, 123456789));
  call('SubtensorModule', 'burned_register', { netuid: 3, hotkey: u8aToHex(bob.publicKey) },
    tx.subtensorModule.burnedRegister(3, bob.publicKey));
  const weights = call('SubtensorModule', 'set_weights', { netuid: 3, dests: [0, 1, 5], weights: [65535, 100, 7], version_key: 42 },
    tx.subtensorModule.setWeights(3, [0, 1, 5], [65535, 100, 7], 42));
  const remark = call('System', 'remark', { remark: '0x' + '61'.repeat(300) }, tx.system.remark('0x' + '61'.repeat(300)));
  call('Sudo', 'sudo', { call: { Balances: { [transferName]: { dest: { Id: u8aToHex(bob.publicKey) }, value: 5 } } } },
    tx.sudo.sudo((tx.balances.transferKeepAlive ?? tx.balances.transfer)({ Id: bob.publicKey }, 5)));

  const blockHash = '0x' + 'ab'.repeat(32);
  const cases = [
    { label: 'transfer, immortal', c: transfer, nonce: 0, tip: 0, era: null },
    { label: 'set_weights, mortal 64 at block 1000, tip', c: weights, nonce: 7, tip: 1000000, era: { period: 64, current: 1000 } },
    { label: 'remark over 256 bytes (hashed payload)', c: remark, nonce: 300, tip: 0, era: null },
  ];
  for (const k of cases) {
    const era = k.era ? registry.createType('ExtrinsicEra', { current: k.era.current, period: k.era.period }) : registry.createType('ExtrinsicEra', '0x00');
    const options = {
      blockHash: k.era ? blockHash : genesis, era, genesisHash: genesis, nonce: k.nonce, tip: k.tip,
      runtimeVersion: { specVersion, transactionVersion: txVersion }, specVersion, transactionVersion: txVersion,
      signedExtensions: registry.signedExtensions, version: 4, method: k.c.toHex(), mode: 0,
    };
    const payload = registry.createType('ExtrinsicPayload', options, { version: 4 });
    out.payloads.push({ label: k.label, call: k.c.toHex(), nonce: k.nonce, tip: k.tip,
                        era: k.era, era_hex: era.toHex(), era_block_hash: options.blockHash,
                        payload: u8aToHex(payload.toU8a({ method: true })) });
    const extrinsic = registry.createType('Extrinsic', k.c, { version: 4 });
    extrinsic.sign(alice, options);
    out.extrinsics.push({ label: k.label, signer_seed: '0x' + '01'.repeat(32), call: k.c.toHex(), nonce: k.nonce, tip: k.tip,
                          era: k.era, era_block_hash: options.blockHash, extrinsic: extrinsic.toHex(), hash: extrinsic.hash.toHex() });
  }

  const q = decorated.query;
  const key = (label, pallet, entry, args, fn) => out.storage_keys.push({ label, pallet, entry, args, key: u8aToHex(compactStripLength(fn())[1]) });
  key('plain', 'Balances', 'TotalIssuance', [], () => q.balances.totalIssuance());
  key('blake2_128_concat', 'System', 'Account', [u8aToHex(alice.publicKey)], () => q.system.account(alice.publicKey));
  key('identity + blake2_128_concat', 'SubtensorModule', 'Uids', [3, u8aToHex(bob.publicKey)], () => q.subtensorModule.uids(3, bob.publicKey));
  key('identity', 'SubtensorModule', 'Keys', [3, 2], () => q.subtensorModule.keys(3, 2));
  key('twox64_concat', 'SubtensorModule', 'Axons', [3, u8aToHex(bob.publicKey)], () => q.subtensorModule.axons(3, bob.publicKey));

  // System.Events as a node returns it: a transfer, and a failed call with a module
  // error of SubtensorModule. Encoded field by field from the metadata's own types.
  const pallets = metadata.asLatest.pallets;
  const pallet = (n) => pallets.find((p) => p.name.toString() === n);
  const encodeFields = (meta, values) => meta.fields.map((f, i) =>
    registry.createTypeUnsafe(registry.lookup.getTypeDef(f.type).type, [values[i]]).toU8a());
  const record = (palletName, ev, values, phase) => {
    const fields = encodeFields(ev.meta, values);
    const bytes = [phase[0], ...phase.slice(1), pallet(palletName).index.toNumber(), ev.meta.index.toNumber(), ...fields.flatMap((f) => [...f]), 0];
    return bytes;
  };
  const apply = (n) => [0, n & 255, (n >> 8) & 255, 0, 0];
  const subtensor = pallet('SubtensorModule');
  const errorVariants = registry.lookup.getSiType(subtensor.errors.unwrap().type).def.asVariant.variants;
  const someError = errorVariants[Math.min(5, errorVariants.length - 1)];
  const wideError = registry.createTypeUnsafe('SpRuntimeModuleError', []).error.length === 4;
  const errorBytes = wideError ? u8aToHex(new Uint8Array([someError.index.toNumber(), 0, 0, 0])) : someError.index.toNumber();
  const failedInfo = registry.createTypeUnsafe(registry.lookup.getTypeDef(decorated.events.system.ExtrinsicFailed.meta.fields[1].type).type, [{}]);
  const bytes = [8,
    ...record('Balances', decorated.events.balances.Transfer, [alice.publicKey, bob.publicKey, 5000], apply(1)),
    ...record('System', decorated.events.system.ExtrinsicFailed, [{ Module: { index: subtensor.index.toNumber(), error: errorBytes } }, failedInfo], apply(2))];
  const decoded = registry.createType('Vec<EventRecord>', new Uint8Array(bytes));
  const failed = decoded[1].event.data[0];
  const meta = registry.findMetaError(failed.asModule);
  out.events.push({
    label: 'a transfer and a failed SubtensorModule call',
    hex: u8aToHex(new Uint8Array(bytes)),
    expect: decoded.map((r) => ({ phase_extrinsic: r.phase.asApplyExtrinsic.toNumber(), pallet: palletName(r.event.section),
                                  event: r.event.method })),
    transfer: { from: u8aToHex(decoded[0].event.data[0]), to: u8aToHex(decoded[0].event.data[1]), amount: decoded[0].event.data[2].toNumber() },
    error: `${palletName(meta.section)}::${meta.method}`,
  });
  out.errors.push({ pallet_index: subtensor.index.toNumber(), error_index: someError.index.toNumber(), name: `SubtensorModule::${someError.name.toString()}` });
  function palletName(section) { return pallets.find((p) => p.name.toString().toLowerCase() === section.toLowerCase()).name.toString(); }
  return out;
}

const tf = await testfinneyFromChopsticks();
writeFileSync(join(data, 'testfinney-metadata.scale'), hexToU8a(tf.metadata));
const devnetHex = u8aToHex(readFileSync(join(data, 'devnet-metadata.scale')));
const vectors = {
  generator: 'tests/subtensor/gen-vectors.mjs (@polkadot/api 16.5.6)',
  accounts: { alice_seed: '0x' + '01'.repeat(32), alice: alice.address, alice_public: u8aToHex(alice.publicKey),
              bob_seed: '0x' + '02'.repeat(32), bob: bob.address, bob_public: u8aToHex(bob.publicKey) },
  runtimes: [
    vectorsFor('testfinney', tf.metadata, tf.genesis, tf.version.specVersion, tf.version.transactionVersion),
    // The devnet runtime is not executed here: its genesis hash and versions are made up.
    vectorsFor('devnet', devnetHex, '0x' + '11'.repeat(32), 331, 1),
  ],
};
writeFileSync(join(data, 'vectors.json'), JSON.stringify(vectors, null, 1) + '\n');
console.log('wrote vectors.json and testfinney-metadata.scale');
process.exit(0);
