import sharp from 'sharp';
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="320"><rect width="100%" height="100%" fill="white"/><text x="320" y="160" font-family="sans-serif" font-size="80" font-weight="bold" text-anchor="middle" dominant-baseline="central" fill="black">NEREID 2026</text></svg>`;
await sharp(Buffer.from(svg)).png().toFile('/tmp/scratch/t.png');
const {data, info} = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({resolveWithObject:true});
console.log(info);
let minx=1e9,maxx=-1,miny=1e9,maxy=-1;
for (let y=0;y<info.height;y++) for (let x=0;x<info.width;x++){ if (data[(y*info.width+x)*3]<128){minx=Math.min(minx,x);maxx=Math.max(maxx,x);miny=Math.min(miny,y);maxy=Math.max(maxy,y);} }
console.log(minx,maxx,miny,maxy);
