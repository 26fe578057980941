// An upload that stops part-way: proves a server answered without waiting for (or buffering) the body.
import * as http from 'node:http';

export interface PartialUploadAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * POSTs headers declaring `declaredBytes` of body, sends only the first `sentBytes` (spaces, valid
 * JSON whitespace) and waits for the answer without sending the rest. A server that reads the whole
 * body before answering never answers, so the test fails on its timeout.
 */
export function partialUpload(
  url: string,
  headers: Record<string, string>,
  declaredBytes: number,
  sentBytes: number,
): Promise<PartialUploadAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(declaredBytes) },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        request.destroy(); // The rest of the body is never sent.
      });
    });
    request.write(Buffer.alloc(sentBytes, ' '));
  });
}
