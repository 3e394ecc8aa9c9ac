/**
 * `member list|add|update|remove|promote` — etcdctl's membership commands. Ids are printed in hex
 * as etcdctl does (the FNV-1a 64 hash of the member id); update/remove/promote take that hex id,
 * the decimal id or the member name. Every member lists every member's name and client URLs;
 * `list` also asks the `--endpoints` members for their status to learn who leads.
 */
import type { JsonObject } from '../client.ts';
import type { CommandContext } from '../api.ts';
import type { Output } from '../output.ts';

interface MemberRow {
  readonly id: string;
  /** The id as the gateway's JSON carries it (decimal uint64). */
  readonly decimal: string;
  readonly name: string;
  readonly peerUrls: string[];
  readonly clientUrls: string[];
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
    decimal: String(m['ID'] ?? ''),
    name: typeof m['name'] === 'string' ? m['name'] : '',
    peerUrls: strings(m['peerURLs']),
    clientUrls: strings(m['clientURLs']),
    learner: m['isLearner'] === true,
  }));
}

/** The leader's decimal id, from the first `--endpoints` member whose status names one. */
async function leaderOf(ctx: CommandContext): Promise<string> {
  for (const endpoint of ctx.client.endpoints) {
    try {
      const s = await ctx.client.call('/v3/maintenance/status', {}, endpoint);
      if ((typeof s['leader'] === 'string' || typeof s['leader'] === 'number') && String(s['leader']) !== '0') return String(s['leader']);
    } catch {
      // An endpoint that does not answer just contributes nothing.
    }
  }
  return '';
}

/** The member `id` names: its hex id, decimal id or name. */
function find(rows: readonly MemberRow[], id: string): MemberRow | undefined {
  return rows.find((r) => r.id === id.toLowerCase() || r.decimal === id || r.name === id);
}

export async function memberListCommand(ctx: CommandContext): Promise<Output> {
  const rows = rowsOf(await ctx.client.call('/v3/cluster/member/list'));
  const leaderId = await leaderOf(ctx);
  const leader = rows.find((r) => r.decimal === leaderId)?.name ?? '';
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
  // A member added without a name that has not started yet is listed by its id.
  const initialCluster = all.map((r) => `${r.name === '' ? r.id : r.name}=${r.peerUrls[0] ?? ''}`).join(',');
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

export async function memberUpdateCommand(ctx: CommandContext, id: string, peerUrls: string): Promise<Output> {
  const target = find(rowsOf(await ctx.client.call('/v3/cluster/member/list')), id);
  await ctx.client.call('/v3/cluster/member/update', { ID: target?.decimal ?? id, peerURLs: peerUrls.split(',').map((u) => u.trim()) });
  const shown = target?.id ?? id;
  return { lines: [`Member ${shown} updated in cluster`], json: { updated: shown } };
}

export async function memberRemoveCommand(ctx: CommandContext, id: string): Promise<Output> {
  const target = find(rowsOf(await ctx.client.call('/v3/cluster/member/list')), id);
  await ctx.client.call('/v3/cluster/member/remove', { ID: target?.decimal ?? id });
  const shown = target?.id ?? id;
  return { lines: [`Removed member ${shown} from cluster`], json: { removed: shown } };
}

export async function memberPromoteCommand(ctx: CommandContext, id: string): Promise<Output> {
  const target = find(rowsOf(await ctx.client.call('/v3/cluster/member/list')), id);
  await ctx.client.call('/v3/cluster/member/promote', { ID: target?.decimal ?? id });
  const shown = target?.id ?? id;
  return { lines: [`Member ${shown} promoted in cluster`], json: { promoted: shown } };
}
