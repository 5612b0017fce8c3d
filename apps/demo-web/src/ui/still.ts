/** Timeline thumbnails: the key frame near an instant (GET /api/still), decoded with WebCodecs into a small canvas. */
import { decodeFrame } from '../protocol.js';

const cache = new Map<string, HTMLCanvasElement>();
const CACHE_SIZE = 96;

/** A canvas with the camera's key frame at or before t, or a sentence saying why there is none. */
export async function still(url: string, camera: number, t: number, width = 192): Promise<HTMLCanvasElement | string> {
  const res = await fetch(url);
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    return body.error?.message ?? `no picture (${res.status})`;
  }
  const f = decodeFrame(new Uint8Array(await res.arrayBuffer()));
  const key = `${camera}:${f.timestamp}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!f.config) return 'no codec configuration in the key frame';
  if (typeof VideoDecoder === 'undefined' || !(await VideoDecoder.isConfigSupported({ codec: f.config.codecString })).supported) {
    return `${f.config.codecString}: this browser cannot decode it`;
  }
  const picture = await new Promise<VideoFrame>((resolve, reject) => {
    const decoder = new VideoDecoder({ output: resolve, error: reject });
    decoder.configure({ codec: f.config!.codecString });
    decoder.decode(new EncodedVideoChunk({ type: 'key', timestamp: 0, data: f.payload }));
    decoder.flush().then(() => decoder.close(), reject);
  });
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = Math.round((width * picture.displayHeight) / picture.displayWidth);
  canvas.getContext('2d')!.drawImage(picture, 0, 0, canvas.width, canvas.height);
  canvas.dataset.timestamp = String(f.timestamp);
  picture.close();
  cache.set(key, canvas);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return canvas;
}
