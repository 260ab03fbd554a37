/**
 * A headless studio for recording tests: its data directory, an operator, the archive API, and
 * synthetic WHIP publishers it closes with it.
 */
import { startHeadless, type HeadlessCore } from './headless';
import { makeClip, SyntheticPublisher } from './publisher';
import { ArchiveApi, OperatorClient, waitFor } from './studio';
import { tempDir } from './tmp';

export interface PublishOptions {
  clip?: string;
  connectionData?: string;
  recordingBlock?: boolean;
  loop?: boolean;
  audioSendDelayMs?: number;
}

export interface RecordingStudio {
  dir: ReturnType<typeof tempDir>;
  core: HeadlessCore;
  operator: OperatorClient;
  api: ArchiveApi;
  /** Publishers started here (closed by `close`). */
  publishers: SyntheticPublisher[];
  /** A synthetic publisher in a room, once its stream (video and audio) is in the room. */
  publish(roomId: string, options?: PublishOptions): Promise<SyntheticPublisher>;
  close(): Promise<void>;
}

export async function startRecordingStudio(): Promise<RecordingStudio> {
  const dir = tempDir();
  const core = await startHeadless({
    dataDir: dir.path,
    env: { SPOOL_SESSION_GRACE_SEC: '1', SPOOL_KEYFRAME_INTERVAL_SEC: '2' },
  });
  const operator = await OperatorClient.login(core);
  const publishers: SyntheticPublisher[] = [];
  return {
    dir,
    core,
    operator,
    api: new ArchiveApi(core.url),
    publishers,
    async publish(roomId, options = {}) {
      const token = await operator.createToken(roomId, {
        connectionData: options.connectionData ?? 'Publisher',
        recordingBlock: options.recordingBlock ?? false,
      });
      const publisher = await SyntheticPublisher.start({
        whipUrl: token.whipUrl,
        token: token.token,
        clip: options.clip ?? makeClip({ durationSec: 30 }),
        loop: options.loop ?? true,
        audioSendDelayMs: options.audioSendDelayMs,
      });
      publishers.push(publisher);
      const connectionId = publisher.resourceUrl.split('/').pop();
      await waitFor(
        async () => {
          const streams = (await operator.room(roomId)).session?.streams ?? [];
          return streams.some((s) => s.codecs.video && s.codecs.audio && s.connectionId === connectionId);
        },
        10_000,
        'the stream',
      );
      return publisher;
    },
    async close() {
      for (const p of publishers) await p.close();
      await core.stop();
      dir.remove();
    },
  };
}
