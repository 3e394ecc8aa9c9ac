/**
 * `member list|add|remove|promote` — etcdctl's membership commands. Ids are printed in hex as
 * etcdctl does (the FNV-1a 64 hash of the member name); remove/promote take that hex id, the
 * decimal id or the member name. `list` asks every `--endpoints` member for its status to learn
 * which client URL serves which member and who leads.
 */
import type { JsonObject } from '../client.ts';
import type { CommandContext } from '../api.ts';
import type { Output } from '../output.ts';

interface MemberRow {
  readonly id: string;
  readonly name: string;
  readonly peerUrls: string[];
  clientUrls: string[];
  readonly learner: boolean;
}

export function hexId(decimal: unknown): string {
  try {
    return BigInt(typeof decimal === 'string' || typeof decimal === 'number' ? decimal : 0).toString(16);
  } catch {
    return String(decimal);
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function rowsOf(reply: JsonObject): MemberRow[] {
  const members = Array.isArray(reply['members']) ? (reply['members'] as JsonObject[]) : [];
  return members.map((m) => ({
    id: hexId(m['ID']),
    name: typeof m['name'] === 'string' ? m['name'] : '',
    peerUrls: strings(m['peerURLs']),
    clientUrls: strings(m['clientURLs']),
    learner: m['isLearner'] === true,
  }));
}

/** Status of every endpoint that answers: member name → client URL, and the leader's name. */
async function discover(ctx: CommandContext): Promise<{ clientUrls: Map<string, string>; leader: string }> {
  const clientUrls = new Map<string, string>();
  let leader = '';
  await Promise.all(
    ctx.client.endpoints.map(async (endpoint) => {
      try {
        const s = await ctx.client.call('/v3/maintenance/status', {}, endpoint);
        if (typeof s['name'] === 'string') clientUrls.set(s['name'], endpoint);
        if (typeof s['leaderName'] === 'string' && s['leaderName'] !== '') leader = s['leaderName'];
      } catch {
        // An endpoint that does not answer just contributes nothing.
      }
    }),
  );
  return { clientUrls, leader };
}

export async function memberListCommand(ctx: CommandContext): Promise<Output> {
  const rows = rowsOf(await ctx.client.call('/v3/cluster/member/list'));
  const { clientUrls, leader } = await discover(ctx);
  for (const r of rows) {
    const url = clientUrls.get(r.name);
    if (r.clientUrls.length === 0 && url !== undefined) r.clientUrls = [url];
  }
  return {
    lines: rows.map((r) => `${r.id}: name=${r.name} peerURLs=${r.peerUrls.join(',')} clientURLs=${r.clientUrls.join(',')} isLeader=${r.name === leader}${r.learner ? ' isLearner=true' : ''}`),
    json: { members: rows.map((r) => ({ id: r.id, name: r.name, peerURLs: r.peerUrls, clientURLs: r.clientUrls, isLeader: r.name === leader, isLearner: r.learner })) },
    table: {
      header: ['ID', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEADER', 'IS LEARNER'],
      rows: rows.map((r) => [r.id, r.name, r.peerUrls.join(','), r.clientUrls.join(','), String(r.name === leader), String(r.learner)]),
    },
  };
}

export async function memberAddCommand(ctx: CommandContext, name: string, peerUrl: string, o: { learner?: boolean }): Promise<Output> {
  const reply = await ctx.client.call('/v3/cluster/member/add', { name, peerURLs: [peerUrl], isLearner: o.learner === true });
  const member = (reply['member'] ?? {}) as JsonObject;
  const id = hexId(member['ID']);
  const all = rowsOf(reply);
  const initialCluster = all.map((r) => `${r.name}=${r.peerUrls[0] ?? ''}`).join(',');
  return {
    lines: [
      `Added member named ${name} with ID ${id} to cluster`,
      '',
      `ETCD_NAME="${name}"`,
      `ETCD_INITIAL_CLUSTER="${initialCluster}"`,
      'ETCD_INITIAL_CLUSTER_STATE="existing"',
    ],
    json: { member: { id, name, peerURLs: [peerUrl], isLearner: o.learner === true }, initialCluster },
  };
}

export async function memberRemoveCommand(ctx: CommandContext, id: string): Promise<Output> {
  const before = rowsOf(await ctx.client.call('/v3/cluster/member/list'));
  const target = before.find((r) => r.id === id.toLowerCase() || r.name === id || hexId(id) === r.id);
  await ctx.client.call('/v3/cluster/member/remove', { ID: target?.name ?? id });
  const shown = target?.id ?? id;
  return { lines: [`Removed member ${shown} from cluster`], json: { removed: shown } };
}

export async function memberPromoteCommand(ctx: CommandContext, id: string): Promise<Output> {
  const before = rowsOf(await ctx.client.call('/v3/cluster/member/list'));
  const target = before.find((r) => r.id === id.toLowerCase() || r.name === id || hexId(id) === r.id);
  await ctx.client.call('/v3/cluster/member/promote', { ID: target?.name ?? id });
  const shown = target?.id ?? id;
  return { lines: [`Member ${shown} promoted in cluster`], json: { promoted: shown } };
}
