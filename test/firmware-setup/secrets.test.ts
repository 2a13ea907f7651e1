import t from 'tap';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSecrets, readSecrets, secretsPathFor } from '../../firmware-setup/src/secrets.js';
import { tmp } from './helpers.js';

const fixed = (b: number) => (n: number): Buffer => Buffer.alloc(n, b);

t.test('the secrets file sits beside the plan: fleet.yaml -> fleet.secrets.yaml', async (t) => {
  t.equal(secretsPathFor('/x/fleet.yaml'), '/x/fleet.secrets.yaml');
  t.equal(secretsPathFor('/x/home.yml'), '/x/home.secrets.yaml');
  t.equal(secretsPathFor('plan'), 'plan.secrets.yaml');
});

t.test('a token is generated once (32 random bytes, base64url, mode 0600) and reused', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'fleet.secrets.yaml');
  const first = ensureSecrets(file, fixed(0xab));
  t.equal(first.created, true);
  t.equal(first.secrets.token, Buffer.alloc(32, 0xab).toString('base64url'));
  t.equal(first.secrets.token.length, 43);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const second = ensureSecrets(file, fixed(0xcd));
  t.equal(second.created, false);
  t.equal(second.secrets.token, first.secrets.token, 'other random bytes, same token');
  t.match(readFileSync(file, 'utf8'), /Keep private/);
});

t.test('a secrets file readable by others is refused with the chmod to run', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'fleet.secrets.yaml');
  ensureSecrets(file, fixed(1));
  chmodSync(file, 0o644);
  t.throws(() => readSecrets(file), { name: 'SecretsError' });
  t.throws(() => ensureSecrets(file, fixed(2)), /mode 0644 .*chmod 600/);
});

t.test('a damaged secrets file is an error, never silently replaced by a new token', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'fleet.secrets.yaml');
  writeFileSync(file, 'token: short\n', { mode: 0o600 });
  t.throws(() => ensureSecrets(file, fixed(3)), /token: must be at least 16/);
  t.equal(readFileSync(file, 'utf8'), 'token: short\n');
});
