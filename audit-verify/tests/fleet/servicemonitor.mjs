// Validates each ServiceMonitor of the YAML files given against the Prometheus Operator's CRD schema
// (@kubernetes-models/prometheus-operator, from npm). kubernetes-validate knows only the built-in kinds.
// Exit 0 when every one is valid and at least one was seen; 1 otherwise, naming the file and the error.
import fs from 'node:fs';
import yaml from 'js-yaml';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

let seen = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8'))) {
    if (doc?.kind !== 'ServiceMonitor') continue;
    seen += 1;
    try {
      new ServiceMonitor(doc).validate();
      console.log(`${file}: ServiceMonitor ${doc.metadata?.name} is valid`);
    } catch (e) {
      failed += 1;
      console.error(`${file}: ServiceMonitor ${doc.metadata?.name}: ${e.message}`);
    }
  }
}
if (seen === 0) console.error('no ServiceMonitor found');
process.exit(failed === 0 && seen > 0 ? 0 : 1);
