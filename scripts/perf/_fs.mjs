import binaryen from 'assemblyscript/binaryen';
import fs from 'fs';
const m = binaryen.readBinary(fs.readFileSync(process.argv[2]));
m.setFeatures(binaryen.Features.All);
binaryen.setOptimizeLevel(3); binaryen.setShrinkLevel(0); binaryen.setDebugInfo(true);
m.optimize();
const rows = [];
for (let i = 0; i < m.getNumFunctions(); i++) {
  const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
  if (!f.body) continue;
  rows.push([binaryen.emitText(f.body).length, f.name]);
}
rows.sort((a, b) => b[0] - a[0]);
console.log(m.emitBinary().length);
for (const r of rows.slice(0, 400)) console.log(r[0], r[1]);
