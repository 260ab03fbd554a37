/** Rooms for the security suites: a studio core in this process (`startTestStudio`). */
import type { RoomJson } from '../../src/shared/rooms';
import { json, operatorToken } from './api';
import { makeClip, SyntheticPublisher } from './publisher';
import type { TestStudio } from './securityStudio';

/** A new room, the operator's credentials, join tokens for it by role, and how many connections it has. */
export async function roomIn(ctx: TestStudio) {
  const auth = { authorization: `Bearer ${await operatorToken(ctx.url)}` };
  const room = (
    await json<RoomJson>(`${ctx.url}/api/rooms`, { method: 'POST', headers: auth, body: { name: 'w' } })
  ).body;
  const token = async (role: string) =>
    (
      await json<{ token: string; whipUrl: string }>(`${ctx.url}/api/rooms/${room.id}/tokens`, {
        method: 'POST',
        headers: auth,
        body: { role },
      })
    ).body;
  const connections = async () =>
    (await json<RoomJson>(`${ctx.url}/api/rooms/${room.id}`, { headers: auth })).body.session?.connections
      .length ?? 0;
  return { room, auth, token, connections };
}

/** A room with a synthetic WHIP publisher sending a looped clip, and the operator's credentials. */
export async function publishing(ctx: TestStudio) {
  const { room, auth, token } = await roomIn(ctx);
  const publisher = await token('publisher');
  const sender = await SyntheticPublisher.start({
    whipUrl: publisher.whipUrl,
    token: publisher.token,
    clip: makeClip({ durationSec: 5 }),
    loop: true,
  });
  return { room, auth, sender, token };
}
