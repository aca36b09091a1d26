/**
 * `ezctl status --watch` on a terminal: a live ink view. Imported lazily by the command (ink costs
 * ~0.45 s to load) and only when stdout is a TTY; elsewhere the command prints plain snapshots.
 */
import { Box, render, Text, useApp, useInput } from 'ink';
import { useEffect, useState } from 'react';
import type { ClusterStatus } from './cluster.js';
import { STATUS_HEADER, statusRow, statusSummary } from './format.js';

interface Props {
  snapshot: () => Promise<ClusterStatus>;
  intervalMs: number;
  count?: number;
  onSnapshot: (s: ClusterStatus) => void;
}

function StatusView({ snapshot, intervalMs, count, onSnapshot }: Props) {
  const { exit } = useApp();
  const [view, setView] = useState<{ s?: ClusterStatus; error?: string; at?: Date }>({});
  // raw mode needs a terminal on stdin too
  useInput(
    (input) => {
      if (input === 'q') exit();
    },
    { isActive: Boolean(process.stdin.isTTY) },
  );
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async (n: number): Promise<void> => {
      try {
        const s = await snapshot();
        if (stopped) return;
        onSnapshot(s);
        setView({ s, at: new Date() });
      } catch (err) {
        if (stopped) return;
        setView((v) => ({ ...v, error: (err as Error).message, at: new Date() }));
      }
      if (count !== undefined && n >= count) {
        exit();
        return;
      }
      timer = setTimeout(() => void tick(n + 1), intervalMs);
    };
    void tick(1);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [snapshot, intervalMs, count, onSnapshot, exit]);

  const { s, error, at } = view;
  if (!s) return <Text dimColor>reading state…</Text>;
  const rows = s.processes.map(statusRow);
  const widths = STATUS_HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>cluster {s.cluster}</Text>
        <Text dimColor>
          {'  '}every {intervalMs} ms · updated {at?.toLocaleTimeString()} · q or Ctrl-C to quit
        </Text>
      </Text>
      {rows.length > 0 && <Text bold>{line(STATUS_HEADER)}</Text>}
      {s.processes.map((p, i) => (
        <Text key={p.name} color={p.alive && p.ready ? 'green' : 'red'}>
          {line(rows[i])}
        </Text>
      ))}
      <Text color={s.healthy ? undefined : 'red'}>{statusSummary(s)}</Text>
      {error && <Text color="red">last refresh failed: {error}</Text>}
    </Box>
  );
}

/** Run the live view until q / Ctrl-C / `count` refreshes; returns the last snapshot. */
export async function watchStatus(
  snapshot: () => Promise<ClusterStatus>,
  opts: { intervalMs: number; count?: number },
): Promise<ClusterStatus> {
  let last: ClusterStatus | undefined;
  const onSnapshot = (s: ClusterStatus): void => {
    last = s;
  };
  const app = render(
    <StatusView
      snapshot={snapshot}
      intervalMs={opts.intervalMs}
      count={opts.count}
      onSnapshot={onSnapshot}
    />,
  );
  await app.waitUntilExit();
  return last ?? (await snapshot());
}
