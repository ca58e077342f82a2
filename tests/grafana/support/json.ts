// Helpers that let tsc check dashboard JSON against @grafana/schema.
//
// The schema declares enums as TypeScript string enums (`enum ThresholdsMode { Absolute =
// 'absolute' }`), which a JSON string literal cannot satisfy. Json<T> swaps every string enum for
// the union of its values (`${ThresholdsMode}` = 'absolute' | 'percentage') and leaves everything
// else — required keys, optional keys, numeric enums — as the schema says.
export type Json<T> = T extends string
  ? `${T}`
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

// The annotation fields Grafana's Prometheus data source reads from a dashboard annotation
// (public/app/plugins/datasource/prometheus: the annotation editor saves expr, step,
// titleFormat, textFormat, tagKeys, useValueForTime beside the common AnnotationQuery keys).
export interface PrometheusAnnotationFields {
  expr?: string;
  step?: string;
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
}
