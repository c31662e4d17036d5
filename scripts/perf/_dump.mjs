import binaryen from 'assemblyscript/binaryen';
import fs from 'fs';
const m = binaryen.readBinary(fs.readFileSync(process.argv[2]));
m.setFeatures(binaryen.Features.All);
for (let i = 0; i < m.getNumFunctions(); i++) {
  const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
  if (f.name === process.argv[3]) console.log(binaryen.emitText(f.body));
}
