import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs } from '../../src/main/util/backoff';
import { dateValues, renderPath, type PathValues } from '../../src/main/delivery/pathTemplate';
import { targetConfigSchema } from '../../src/shared/targets';
import { parseWith } from '../../src/shared/validation';

const values: PathValues = {
  room: 'room-1',
  roomName: 'Morning show',
  archiveId: 'a1',
  archiveName: 'Take 2',
  sessionId: 'room-1',
  file: 'split/s1_0001.webm',
  kind: 'split',
  streamId: 's1',
  ...dateValues(Date.UTC(2026, 10, 23, 9, 5, 7)),
};

describe('delivery path templates', () => {
  it('renders the default template as room/archive/file, keeping sub-folders of the file', () => {
    assert.equal(renderPath(undefined, values), 'room-1/a1/split/s1_0001.webm');
  });

  it('fills names and dates (UTC)', () => {
    assert.equal(
      renderPath('{roomName}/{date}/{time}-{archiveName}/{file}', values),
      'Morning show/2026-11-23/09-05-07-Take 2/split/s1_0001.webm',
    );
    assert.equal(
      renderPath('{year}/{month}/{day}/{kind}/{streamId}/{file}', values),
      '2026/11/23/split/s1/split/s1_0001.webm',
    );
  });

  it('never lets a value climb out of the target folder', () => {
    const evil = { ...values, roomName: '../../etc', archiveName: '..', file: '../../passwd' };
    const path = renderPath('/{roomName}/{archiveName}/{file}', evil);
    assert.ok(!path.split('/').includes('..'), path);
    assert.ok(!path.startsWith('/'), path);
    assert.equal(path, '.._.._etc/_/_/_/passwd');
  });

  it('rejects templates with unknown placeholders or without {file}, naming the field', () => {
    const base = { kind: 'local', name: 'NAS', path: '/mnt/nas' };
    assert.throws(
      () => parseWith(targetConfigSchema, { ...base, pathTemplate: '{room}/{nope}/{file}' }, 'target'),
      (e: Error & { field?: string }) =>
        e.field === 'pathTemplate' && /unknown placeholder \{nope\}/.test(e.message),
    );
    assert.throws(
      () => parseWith(targetConfigSchema, { ...base, pathTemplate: '{room}/{archiveId}' }, 'target'),
      (e: Error & { field?: string }) =>
        e.field === 'pathTemplate' && /must contain \{file\}/.test(e.message),
    );
    assert.equal(parseWith(targetConfigSchema, base, 'target').pathTemplate, '{room}/{archiveId}/{file}');
  });

  it('names the field of an invalid target config', () => {
    assert.throws(
      () =>
        parseWith(
          targetConfigSchema,
          { kind: 's3', name: 'S3', bucket: 'b', accessKeyId: 'k', region: 'US EAST' },
          'target',
        ),
      (e: Error & { field?: string }) => e.field === 'bucket' || e.field === 'region',
    );
    assert.throws(
      () =>
        parseWith(
          targetConfigSchema,
          { kind: 'sftp', name: 'x', host: 'h', user: 'u', hostKeyFingerprint: 'MD5:aa' },
          'target',
        ),
      (e: Error & { field?: string }) => e.field === 'hostKeyFingerprint',
    );
    assert.throws(
      () => parseWith(targetConfigSchema, { kind: 'gopher', name: 'x' }, 'target'),
      (e: Error & { field?: string }) => e.field === 'kind',
    );
  });
});

describe('delivery backoff', () => {
  it('doubles from the base up to the cap, with jitter between half and all of the delay', () => {
    const low = () => 0;
    const high = () => 1;
    assert.equal(backoffMs(1, 10, 3600, false, low), 5000);
    assert.equal(backoffMs(1, 10, 3600, false, high), 10_000);
    assert.equal(backoffMs(3, 10, 3600, false, high), 40_000);
    assert.equal(backoffMs(30, 10, 3600, false, high), 3_600_000);
  });

  it('waits the capped delay at once for errors the user must fix', () => {
    assert.ok(backoffMs(1, 10, 3600, true) >= 1_800_000);
  });

  it('never spins with a zero base', () => {
    assert.equal(
      backoffMs(1, 0, 1, false, () => 0),
      100,
    );
  });
});
