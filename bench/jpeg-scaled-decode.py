# Makes the 12 MP test JPEGs of bench/jpeg-scaled-decode.ts (run with /usr/bin/python3: needs PIL):
# each CIFAR-10 sample of ../shared/data/images and CLIP.png, upscaled (bicubic) to 4000x3000 and
# saved as a baseline 4:2:0 JPEG at quality 90, as a phone would. Writes into the folder given.
import pathlib, sys
from PIL import Image

out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
root = pathlib.Path(__file__).resolve().parent.parent
sources = sorted((root.parent / 'shared/data/images/cifar10-test-sample').glob('*.jpg')) + [root / 'test/fixtures/images/CLIP.png']
for src in sources:
    dst = out / (src.stem + '.jpg')
    if dst.exists():
        continue
    im = Image.open(src).convert('RGB').resize((4000, 3000), Image.BICUBIC)
    im.save(dst, quality=90, subsampling=2, progressive=False)
print(len(sources))
