// The "timeseries" panel plugin: @grafana/ui's TimeSeries graph (uPlot, with
// axes, grid, thresholds and the legend) in a PanelPlugin, as Grafana's core
// time series panel was before it moved into Grafana's app.
import React from 'react';

import {
  FieldConfigPropertyItem,
  FieldType,
  identityOverrideProcessor,
  PanelPlugin,
  PanelProps,
  PluginType,
  standardFieldConfigEditorRegistry,
  thresholdsOverrideProcessor,
} from '@grafana/data';
import { LegendDisplayMode, TimeSeries, VizLegendOptions } from '@grafana/ui';

interface Options {
  legend: VizLegendOptions;
}

function TimeSeriesPanel({ data, timeRange, timeZone, width, height, options }: PanelProps<Options>) {
  if (!data.series.some((f) => f.fields.some((field) => field.type === FieldType.time))) {
    return <div className="panel-empty">No data</div>;
  }
  return (
    <TimeSeries
      frames={data.series}
      timeRange={timeRange}
      timeZone={timeZone}
      width={width}
      height={height}
      legend={options.legend}
      options={options}
    />
  );
}

const noEditor = () => null;

// option is one field config property as Grafana's registries hold it,
// without its editor: nobody edits this page.
function option(
  path: string,
  process: FieldConfigPropertyItem['process'] = identityOverrideProcessor,
  defaultValue?: unknown
): FieldConfigPropertyItem {
  return {
    id: path,
    path,
    name: path,
    editor: noEditor,
    override: noEditor,
    process,
    shouldApply: () => true,
    defaultValue,
  };
}

// Grafana's app registers its standard field options (unit, min, max,
// thresholds, colour…) at start-up; these are the ones the graph reads.
standardFieldConfigEditorRegistry.setInit(() => [
  option('displayName'),
  option('unit'),
  option('min'),
  option('max'),
  option('decimals'),
  option('color'),
  option('thresholds', thresholdsOverrideProcessor),
]);

// The custom (graph) options TimeSeries reads, with the defaults of
// Grafana's time series panel.
const graphDefaults: Record<string, unknown> = {
  drawStyle: 'line',
  lineInterpolation: 'linear',
  lineWidth: 1,
  fillOpacity: 0,
  gradientMode: 'none',
  showPoints: 'auto',
  pointSize: 5,
  spanNulls: false,
  insertNulls: false,
  axisPlacement: 'auto',
  axisLabel: '',
  axisColorMode: 'text',
  axisBorderShow: false,
  axisCenteredZero: false,
  axisSoftMin: undefined,
  axisSoftMax: undefined,
  axisGridShow: undefined,
  barAlignment: 0,
  lineStyle: { fill: 'solid' },
  stacking: { mode: 'none', group: 'A' },
  scaleDistribution: { type: 'linear' },
  hideFrom: { legend: false, tooltip: false, viz: false },
  thresholdsStyle: { mode: 'off' },
};

export const timeSeriesPanel = new PanelPlugin<Options>(TimeSeriesPanel)
  .setPanelOptions((builder) => {
    builder.addCustomEditor({
      id: 'legend',
      path: 'legend',
      name: 'Legend',
      editor: noEditor,
      defaultValue: { showLegend: true, displayMode: LegendDisplayMode.List, placement: 'bottom', calcs: [] },
    });
  })
  .useFieldConfig({
    useCustomConfig: (builder) => {
      for (const [path, value] of Object.entries(graphDefaults)) {
        builder.addCustomEditor({ ...option(path, identityOverrideProcessor, value) });
      }
    },
  });

timeSeriesPanel.meta = {
  id: 'timeseries',
  name: 'Time series',
  type: PluginType.panel,
  module: 'core:plugin/timeseries',
  baseUrl: 'public/app/plugins/panel/timeseries',
  sort: 0,
  info: {
    author: { name: 'Grafana Labs' },
    description: 'Time based line, area and bar charts',
    links: [],
    logos: { small: '', large: '' },
    screenshots: [],
    updated: '',
    version: '',
  },
};
