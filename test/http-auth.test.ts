/** Only Kong with the right credentials gets entries in; refused requests ingest nothing and secrets never reach the log. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kongTexts, startHarness, TOKEN, waitFor, type Harness } from './support/http-harness.ts';

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('http source: bearer token', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('the right token is accepted (any case of the scheme)', async () => {
    const [a, b] = kongTexts(2, 41);
    assert.equal((await h.post(a)).status, 200);
    assert.equal((await h.post(b, { authorization: `bearer ${TOKEN}` })).status, 200);
    await waitFor(() => h.sink.texts.length === 2, 'both entries at the sink');
  });

  it('a wrong, longer, shorter or missing token gets 401 with WWW-Authenticate, nothing ingested, counted, not logged', async () => {
    const [entry] = kongTexts(1, 42);
    const received = h.stats.received;
    const wrong = [
      'Bearer wrong-token-000000000',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      'Bearer ',
      basic('kong', TOKEN),
      TOKEN,
    ];
    for (const authorization of wrong) {
      const answer = await h.post(entry, { authorization });
      assert.equal(answer.status, 401, authorization);
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="kong-log-relay"');
    }
    assert.equal((await h.post(entry, { authorization: null })).status, 401);
    assert.equal(h.stats.received, received, 'nothing ingested');
    assert.equal(h.stats.httpRequests['401'], wrong.length + 1);
    assert.ok(h.logText().includes('401'), 'refusals are logged');
    assert.ok(!h.logText().includes('wrong-token'), 'presented credentials are never logged');
    assert.ok(!h.logText().includes(TOKEN), 'the configured token is never logged');
  });
});

describe("http source: basic auth (userinfo in Kong's http_endpoint)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ source: { auth: { basic: { user: 'kong', password: 'p:ss wörd' } } } });
  });
  after(async () => {
    await h.close();
  });

  it('the right user and password are accepted', async () => {
    const [entry] = kongTexts(1, 43);
    assert.equal((await h.post(entry, { authorization: basic('kong', 'p:ss wörd') })).status, 200);
    await waitFor(() => h.sink.texts.length === 1, 'the entry at the sink');
  });

  it('a wrong password or user, or a bearer token, gets 401 and nothing is ingested', async () => {
    const [entry] = kongTexts(1, 44);
    const received = h.stats.received;
    for (const authorization of [
      basic('kong', 'wrong'),
      basic('other', 'p:ss wörd'),
      basic('kong', 'p:ss wörd2'),
      `Bearer ${TOKEN}`,
      'Basic !!!not-base64',
    ]) {
      const answer = await h.post(entry, { authorization });
      assert.equal(answer.status, 401);
      assert.match(String(answer.headers['www-authenticate']), /^Basic realm="kong-log-relay"/);
    }
    assert.equal(h.stats.received, received);
    assert.ok(!h.logText().includes('p:ss'), 'the password is never logged');
  });
});

describe('http source: bearer and basic together, and auth none', () => {
  it('with both configured, either one is accepted', async () => {
    const h = await startHarness({ source: { auth: { bearer: TOKEN, basic: { user: 'kong', password: 'secret' } } } });
    try {
      const [a, b, c] = kongTexts(3, 45);
      assert.equal((await h.post(a)).status, 200);
      assert.equal((await h.post(b, { authorization: basic('kong', 'secret') })).status, 200);
      const refused = await h.post(c, { authorization: basic('kong', TOKEN) });
      assert.equal(refused.status, 401);
      assert.equal(
        refused.headers['www-authenticate'],
        'Bearer realm="kong-log-relay", Basic realm="kong-log-relay", charset="UTF-8"',
      );
      await waitFor(() => h.sink.texts.length === 2, 'two entries at the sink');
    } finally {
      await h.close();
    }
  });

  it('auth none: true takes requests without credentials', async () => {
    const h = await startHarness({ source: { auth: { none: true } } });
    try {
      const [entry] = kongTexts(1, 46);
      assert.equal((await h.post(entry, { authorization: null })).status, 200);
      await waitFor(() => h.sink.texts.length === 1, 'the entry at the sink');
    } finally {
      await h.close();
    }
  });
});
