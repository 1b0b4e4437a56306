// The AWS SDK for JavaScript v3 as a consumer of s3creds' credentials (its default chain: here the
// container provider). Usage: node consumer.mjs BUCKET KEY BODY. Writes BODY, reads it back, prints it.
import { S3Client, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";

const [bucket, key, body] = process.argv.slice(2);
const client = new S3Client({
  region: process.env.AWS_REGION,
  endpoint: process.env.AWS_ENDPOINT_URL,
  forcePathStyle: true,
});
await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
process.stdout.write(await got.Body.transformToString());
