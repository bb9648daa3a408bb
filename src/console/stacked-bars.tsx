const WIDTH = 600;
const HEIGHT = 120;

/** One bar: its hover text and its segments, bottom first, as counts with their colour. */
export interface Bar {
  title: string;
  segments: readonly (readonly [count: number, fill: string])[];
}

/**
 * Stacked bars, oldest on the left, each as tall as its total against the tallest. Plain SVG
 * elements with presentation attributes: nothing the console's CSP would block.
 */
export function StackedBars(props: { label: string; bars: readonly Bar[]; slots: number; gap: number }) {
  const total = (bar: Bar) => bar.segments.reduce((sum, [count]) => sum + count, 0);
  const tallest = Math.max(1, ...props.bars.map(total));
  const barWidth = Math.floor(WIDTH / Math.max(props.slots, props.bars.length)) - props.gap;
  const scale = (count: number) => Math.round((count / tallest) * (HEIGHT - 10));
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label={props.label}>
      <line x1="0" y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} stroke="#c8c8d0" />
      {props.bars.map((bar, index) => {
        const x = index * (barWidth + props.gap);
        let top = HEIGHT;
        return (
          <g>
            <title>{bar.title}</title>
            {bar.segments.map(([count, fill]) => {
              const height = scale(count);
              top -= height;
              return <rect x={x} y={top} width={barWidth} height={height} fill={fill} />;
            })}
          </g>
        );
      })}
    </svg>
  );
}
