//! S3 work of the bucket and object commands: streaming uploads (multipart above one part, a bounded
//! number of parts in flight, CRC32 checksums the SDK computes and S3 verifies), streaming downloads
//! (checksums validated by the SDK where the object has one), listing and deleting. The bucket
//! settings (policy, public access block, CORS, ACL) are in `bucket`.

pub mod bucket;

use crate::aws::call_error;
use crate::core::objects::{MAX_PARTS, PARTS_IN_FLIGHT, PART_SIZE};
use crate::error::{Error, Result};
use crate::progress::Progress;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
    ObjectIdentifier,
};
use aws_sdk_s3::Client;
use futures::stream::{FuturesUnordered, StreamExt};
use std::io::{Read, Write};

/// A source of bytes to upload, read on the blocking pool so a slow source (a pipe) never stalls the
/// network work of parts already in flight.
pub type Source = Box<dyn Read + Send>;

/// Read up to one part: fewer bytes only at the end of the input.
async fn read_part(reader: Source, label: &str) -> Result<(Vec<u8>, Source)> {
    let label = label.to_string();
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let mut buffer = Vec::with_capacity(PART_SIZE);
        (&mut reader)
            .take(PART_SIZE as u64)
            .read_to_end(&mut buffer)
            .map_err(|e| Error::invalid(format!("{label}: cannot read: {e}")))?;
        Ok((buffer, reader))
    })
    .await
    .map_err(|e| Error::Internal(format!("reading {e}")))?
}

/// Upload `source` to `bucket`/`key`; `label` names the source in errors. One PutObject up to one
/// part; above, a multipart upload with at most [`PARTS_IN_FLIGHT`] parts in memory, aborted on
/// failure so no parts are left behind. Returns the bytes uploaded.
pub async fn upload(
    s3: &Client,
    bucket: &str,
    key: &str,
    source: Source,
    content_type: Option<&str>,
    label: &str,
    progress: &Progress,
) -> Result<u64> {
    let (first, source) = read_part(source, label).await?;
    if first.len() < PART_SIZE {
        let size = first.len() as u64;
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .set_content_type(content_type.map(str::to_string))
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(first))
            .send()
            .await
            .map_err(call_error("PutObject"))?;
        progress.add_bytes(size);
        return Ok(size);
    }
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_content_type(content_type.map(str::to_string))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .map_err(call_error("CreateMultipartUpload"))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| Error::aws("CreateMultipartUpload", "no UploadId in the answer"))?
        .to_string();
    let parts = upload_parts(s3, bucket, key, &upload_id, first, source, label, progress).await;
    let completed = match parts {
        Ok(parts) => s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts.1))
                    .build(),
            )
            .send()
            .await
            .map_err(call_error("CompleteMultipartUpload"))
            .map(|_| parts.0),
        Err(error) => Err(error),
    };
    if completed.is_err() {
        // Parts left behind are billed until aborted; the original error is what matters.
        let _ = s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    completed
}

#[allow(clippy::too_many_arguments)]
async fn upload_parts(
    s3: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    first: Vec<u8>,
    source: Source,
    label: &str,
    progress: &Progress,
) -> Result<(u64, Vec<CompletedPart>)> {
    let mut in_flight = FuturesUnordered::new();
    let mut completed = Vec::new();
    let mut total = 0u64;
    let mut next = Some((first, source));
    let mut part_number: i32 = 0;
    let failure = 'parts: loop {
        // Start parts while there is room; each runs as its own task, so it progresses while the
        // next part is read.
        while in_flight.len() < PARTS_IN_FLIGHT {
            let Some((data, source)) = next.take() else {
                break;
            };
            if data.is_empty() {
                break;
            }
            part_number += 1;
            if part_number as usize > MAX_PARTS {
                break 'parts Some(Error::invalid(format!(
                    "{label}: larger than S3's {MAX_PARTS} parts of {} MiB",
                    PART_SIZE / (1024 * 1024)
                )));
            }
            let last = data.len() < PART_SIZE;
            let size = data.len() as u64;
            let request = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(part_number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(data));
            let number = part_number;
            in_flight.push(tokio::spawn(async move {
                let answer = request.send().await.map_err(call_error("UploadPart"))?;
                Ok::<_, Error>((
                    size,
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(answer.e_tag().map(str::to_string))
                        .set_checksum_crc32(answer.checksum_crc32().map(str::to_string))
                        .build(),
                ))
            }));
            if !last {
                match read_part(source, label).await {
                    Ok(read) => next = Some(read),
                    Err(error) => break 'parts Some(error),
                }
            }
        }
        match in_flight.next().await {
            Some(joined) => {
                match joined.map_err(|e| Error::Internal(format!("upload task: {e}"))) {
                    Ok(Ok((size, part))) => {
                        progress.add_bytes(size);
                        total += size;
                        completed.push(part);
                    }
                    Ok(Err(error)) | Err(error) => break 'parts Some(error),
                }
            }
            None => break 'parts None,
        }
    };
    if let Some(error) = failure {
        // The parts already sent finish first: the caller then aborts the upload, and S3 may keep a
        // part that completes after AbortMultipartUpload (and bill for it). Dropping the handles
        // would leave those tasks running, detached.
        while in_flight.next().await.is_some() {}
        return Err(error);
    }
    completed.sort_by_key(|p| p.part_number());
    Ok((total, completed))
}

/// Stream `bucket`/`key` into `out`, chunk by chunk; the SDK validates the object's checksum when it
/// has a whole-object one. Returns the bytes written.
pub async fn download(
    s3: &Client,
    bucket: &str,
    key: &str,
    out: &mut dyn Write,
    label: &str,
    progress: &Progress,
) -> Result<u64> {
    let mut answer = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(call_error("GetObject"))?;
    let mut written = 0u64;
    while let Some(chunk) = answer.body.next().await {
        let chunk = chunk.map_err(|e| Error::aws("GetObject", format!("{key}: {e}")))?;
        out.write_all(&chunk)
            .map_err(|e| Error::invalid(format!("{label}: cannot write: {e}")))?;
        written += chunk.len() as u64;
        progress.add_bytes(chunk.len() as u64);
    }
    out.flush()
        .map_err(|e| Error::invalid(format!("{label}: cannot write: {e}")))?;
    Ok(written)
}

/// Every object under `prefix` (ListObjectsV2, all pages), in S3's order.
pub async fn list_objects(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
) -> Result<Vec<aws_sdk_s3::types::Object>> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .set_prefix(prefix.filter(|p| !p.is_empty()).map(str::to_string))
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(call_error("ListObjectsV2"))?;
        objects.extend(page.contents().iter().cloned());
    }
    Ok(objects)
}

/// Delete `keys` in batches of DeleteObjects; returns the keys S3 reported as not deleted, with why.
pub async fn delete_keys(
    s3: &Client,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<(String, String)>> {
    let mut failed = Vec::new();
    for batch in keys.chunks(crate::core::objects::DELETE_BATCH) {
        let objects = batch
            .iter()
            .map(|key| {
                ObjectIdentifier::builder()
                    .key(key)
                    .build()
                    .map_err(|e| Error::Internal(format!("DeleteObjects request: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| Error::Internal(format!("DeleteObjects request: {e}")))?;
        let answer = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(call_error("DeleteObjects"))?;
        for error in answer.errors() {
            failed.push((
                error.key().unwrap_or_default().to_string(),
                format!(
                    "{}: {}",
                    error.code().unwrap_or("Error"),
                    error.message().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(failed)
}
