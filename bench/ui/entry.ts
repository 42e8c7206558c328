// The benchmark page: `?page=output` measures the output view
// (bench/ui/output.ts); anything else the live tree (bench/ui/bench.ts).
if (new URLSearchParams(location.search).get('page') === 'output') void import('./output');
else void import('./bench');
