/** A uPlot time series chart that keeps one plot instance and feeds it new data on every render. */
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

const PALETTE = ['#2f80ed', '#eb5757', '#f2994a', '#27ae60', '#9b51e0', '#56ccf2', '#bb6bd9', '#6fcf97', '#828282'];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function Chart({
  title,
  times,
  series,
  unit,
  sparse = false,
}: {
  title: string;
  times: number[];
  series: Series[];
  unit: string;
  /** Values only now and then (gaps between): drawn as points too, or a lone value would not show. */
  sparse?: boolean;
}) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(320, el.current.clientWidth || 460);
    plot.current = new uPlot(
      {
        width,
        height: 200,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [
          { stroke: '#8a94a6', grid: { stroke: '#eef1f5' } },
          { stroke: '#8a94a6', grid: { stroke: '#eef1f5' }, size: 50, values: (_u, v) => v.map((x) => `${+x.toFixed(2)}`) },
        ],
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: sparse ? undefined : `${s.color}18`, points: { show: sparse, size: 6 }, spanGaps: sparse })),
        ],
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // A new set of series needs a new plot; new values only need setData.
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)] as uPlot.AlignedData);
  });

  return (
    <div class="card chart">
      <h3>
        {title} <span class="muted small">{unit}</span>
      </h3>
      {series.length === 0 ? <p class="empty small">No data yet.</p> : null}
      <div ref={el} data-testid={`chart-${title}`} />
    </div>
  );
}
