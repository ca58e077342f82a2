// Checks that every fixture the fake Jellyfin serves uses only (for EncodingOptions: exactly) the
// fields of @jellyfin/sdk's generated models — 0.12.0 for the 10.11 fixtures, 0.11.0 for 10.10.
// Usage: npm ci --ignore-scripts && node check_fixtures.mjs   (exit 1 on a mismatch)
import { readFileSync } from 'node:fs';

const models = (pkg) => `node_modules/${pkg}/lib/generated-client/models/`;
const fields = (pkg, file) =>
  new Set([...readFileSync(models(pkg) + file, 'utf8').matchAll(/^\s+'([A-Za-z0-9]+)'\??:/gm)].map((m) => m[1]));
const load = (name) => {
  const doc = JSON.parse(readFileSync(`fixtures/${name}`, 'utf8'));
  delete doc._comment;
  return doc;
};
let failures = 0;
const check = (what, keys, allowed, exact) => {
  for (const k of keys) if (!allowed.has(k)) { console.error(`${what}: field ${k} is not in the SDK model`); failures++; }
  if (exact) for (const k of allowed) if (!keys.includes(k)) { console.error(`${what}: SDK field ${k} missing`); failures++; }
};
for (const [version, pkg] of [['10.11', '@jellyfin/sdk'], ['10.10', 'jellyfin-sdk-0.11']]) {
  check(`encoding-${version}`, Object.keys(load(`encoding-${version}.json`)), fields(pkg, 'encoding-options.d.ts'), true);
  for (const [i, s] of load(`sessions-${version}.json`).sessions.entries()) {
    check(`sessions-${version}[${i}]`, Object.keys(s), fields(pkg, 'session-info-dto.d.ts'), false);
    if (s.TranscodingInfo) check(`sessions-${version}[${i}].TranscodingInfo`, Object.keys(s.TranscodingInfo), fields(pkg, 'transcoding-info.d.ts'), false);
    if (s.NowPlayingItem) check(`sessions-${version}[${i}].NowPlayingItem`, Object.keys(s.NowPlayingItem), fields(pkg, 'base-item-dto.d.ts'), false);
    if (s.PlayState) check(`sessions-${version}[${i}].PlayState`, Object.keys(s.PlayState), fields(pkg, 'player-state-info.d.ts'), false);
  }
}
for (const [i, t] of load('scheduled-tasks.json').tasks.entries()) check(`scheduled-tasks[${i}]`, Object.keys(t), fields('@jellyfin/sdk', 'task-info.d.ts'), false);
console.log(failures ? `${failures} mismatch(es)` : 'fixtures match @jellyfin/sdk 0.11.0 / 0.12.0 models');
process.exit(failures ? 1 : 0);
