//! Photo-sized envelopes as files: written atomically, encrypted while they are written.
//!
//! A photo's envelope never exists in memory as a whole and its plaintext never touches disk.
//! [`BlobStore::write_stream`] seals 64 KiB chunks straight from the caller's buffers into
//! 1 MiB batches while a second thread writes the previous batch, so encryption overlaps the
//! I/O; the file is written under a temporary name, fsynced, renamed into place, and the folder
//! is fsynced, so a crash leaves either no file or the whole file. Reads open one chunk at a
//! time: whole (into one buffer, decrypting in place), chunk by chunk (random access), or
//! streamed to a writer with one chunk of memory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use ward_proto::ObjectRef;
use ward_proto::envelope::{HEADER_LEN, Header, KeyRing, SealKey, begin_stream};
use ward_proto::stream::{ChunkOpener, Layout, PartsReader, TAG_LEN};

use crate::bytes::Bytes;
use crate::error::{CoreError, Result};

/// Chunks per write batch: 16 × 64 KiB ≈ 1 MiB per `write` call.
const BATCH_CHUNKS: u64 = 16;
const TMP_SUFFIX: &str = ".tmp";
const BLOB_SUFFIX: &str = ".wenv";

/// The folder of file-backed envelopes.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// A blob store in `dir` (created if missing).
    pub fn open(dir: PathBuf) -> Result<Self> {
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// File name of an object version's envelope.
    pub fn file_name(object: &ObjectRef) -> String {
        format!("{}_{}{BLOB_SUFFIX}", object.object, object.version)
    }

    fn path(&self, object: &ObjectRef) -> PathBuf {
        self.dir.join(Self::file_name(object))
    }

    /// Seals the concatenation of `parts` as `object`'s envelope and stores it durably.
    /// Returns the envelope length. On error nothing is left behind.
    pub fn write_stream(
        &self,
        object: ObjectRef,
        key: SealKey<'_>,
        parts: &[&[u8]],
        chunk_size: u32,
    ) -> Result<u64> {
        let final_path = self.path(&object);
        let tmp = self
            .dir
            .join(format!("{}{TMP_SUFFIX}", Self::file_name(&object)));
        let result = self.write_stream_to(&tmp, object, key, parts, chunk_size);
        match result {
            Ok(len) => {
                fs::rename(&tmp, &final_path)?;
                sync_dir(&self.dir)?;
                Ok(len)
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn write_stream_to(
        &self,
        tmp: &Path,
        object: ObjectRef,
        key: SealKey<'_>,
        parts: &[&[u8]],
        chunk_size: u32,
    ) -> Result<u64> {
        let (header, mut sealer) = begin_stream(object, key, chunk_size)?;
        let mut reader = PartsReader::new(parts);
        let layout = Layout::for_plaintext(reader.total_len(), chunk_size);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(CoreError::Io)?;
        file.write_all(&header.to_bytes())?;
        let sealed_chunk = chunk_size as usize + TAG_LEN;

        std::thread::scope(|scope| -> Result<()> {
            let (to_writer, from_sealer) = mpsc::sync_channel::<Vec<u8>>(1);
            let (recycle, recycled) = mpsc::channel::<Vec<u8>>();
            let writer = scope.spawn(move || -> io::Result<()> {
                for batch in from_sealer {
                    file.write_all(&batch)?;
                    let _ = recycle.send(batch);
                }
                file.sync_all()
            });
            let mut index = 0;
            let mut send_failed = false;
            let batch_bytes = sealed_chunk * BATCH_CHUNKS as usize;
            while index < layout.chunks {
                // Buffers are recycled at full length, so filling one costs no memset.
                let mut batch = recycled
                    .try_recv()
                    .unwrap_or_else(|_| vec![0u8; batch_bytes]);
                batch.resize(batch_bytes, 0);
                let end = (index + BATCH_CHUNKS).min(layout.chunks);
                let mut filled = 0;
                for i in index..end {
                    let range = layout.chunk_range(i)?;
                    let len = (range.end - range.start) as usize;
                    let chunk = &mut batch[filled..filled + len];
                    reader.fill(&mut chunk[..len - TAG_LEN]);
                    sealer.seal_next(chunk, layout.is_last(i))?;
                    filled += len;
                }
                batch.truncate(filled);
                index = end;
                if to_writer.send(batch).is_err() {
                    send_failed = true;
                    break;
                }
            }
            drop(to_writer);
            let written = writer
                .join()
                .map_err(|_| io::Error::other("blob writer panicked"))?;
            written?;
            if send_failed {
                return Err(io::Error::other("blob writer stopped").into());
            }
            Ok(())
        })?;
        Ok(HEADER_LEN as u64 + layout.body_len)
    }

    /// Opens `object`'s envelope for reading, checking it is that object and unwrapping its
    /// content key.
    pub fn reader(&self, object: &ObjectRef, keys: &(impl KeyRing + ?Sized)) -> Result<BlobReader> {
        let name = || format!("{}/{}", object.object, object.version);
        let mut file = File::open(self.path(object)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CoreError::corrupt(name(), "photo file is missing"),
            _ => CoreError::Io(e),
        })?;
        let len = file.metadata()?.len();
        let mut head = [0u8; HEADER_LEN];
        file.read_exact(&mut head)
            .map_err(|_| CoreError::corrupt(name(), "file too short"))?;
        let header = Header::parse(&head).map_err(|e| CoreError::corrupt(name(), e))?;
        let opener = header
            .opener(object, keys, len - HEADER_LEN as u64)
            .map_err(|e| CoreError::corrupt(name(), e))?;
        Ok(BlobReader {
            file,
            opener,
            name: name(),
        })
    }

    /// `len` bytes of `object`'s envelope file from `offset` (an upload part).
    pub fn read_range(&self, object: &ObjectRef, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut file = File::open(self.path(object))?;
        let size = file.metadata()?.len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(CoreError::Invalid(format!(
                "range {offset}+{len} is outside the {size}-byte photo envelope"
            )));
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; len as usize];
        file.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Stores a complete envelope received from the server (a downloaded photo) durably,
    /// after checking that its header names exactly `object` and that `keys` unwrap its
    /// content key for a body of this length. Every chunk is authenticated again when read.
    pub fn write_envelope(
        &self,
        object: &ObjectRef,
        envelope: &[u8],
        keys: &(impl KeyRing + ?Sized),
    ) -> Result<u64> {
        let name = || format!("{}/{}", object.object, object.version);
        if envelope.len() < HEADER_LEN {
            return Err(CoreError::corrupt(name(), "downloaded envelope too short"));
        }
        let header =
            Header::parse(&envelope[..HEADER_LEN]).map_err(|e| CoreError::corrupt(name(), e))?;
        header
            .opener(object, keys, (envelope.len() - HEADER_LEN) as u64)
            .map_err(|e| CoreError::corrupt(name(), e))?;
        let final_path = self.path(object);
        let tmp = self
            .dir
            .join(format!("{}{TMP_SUFFIX}", Self::file_name(object)));
        let written = (|| -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(envelope)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        fs::rename(&tmp, &final_path)?;
        sync_dir(&self.dir)?;
        Ok(envelope.len() as u64)
    }

    /// Whether an envelope file exists for `object`.
    pub fn exists(&self, object: &ObjectRef) -> bool {
        self.path(object).exists()
    }

    /// Deletes `object`'s envelope file (and a temporary one a crash left), if present.
    /// Returns whether a file was removed. The caller fsyncs the folder ([`sync_dir`]) once
    /// after a batch of removals.
    pub fn remove(&self, object: &ObjectRef) -> Result<bool> {
        let tmp = self
            .dir
            .join(format!("{}{TMP_SUFFIX}", Self::file_name(object)));
        let mut removed = false;
        for path in [self.path(object), tmp] {
            match fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }

    /// The folder the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes temporary files and files that `is_known` does not recognise (left by a crash
    /// between the rename and the database commit). Returns how many were removed.
    pub fn sweep(&self, is_known: impl Fn(&str) -> bool) -> Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(TMP_SUFFIX) || (name.ends_with(BLOB_SUFFIX) && !is_known(&name)) {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
            tracing::info!(removed, "removed unreferenced photo files");
        }
        Ok(removed)
    }
}

/// fsyncs a folder so a rename or unlink in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads one file-backed envelope.
#[derive(Debug)]
pub struct BlobReader {
    file: File,
    opener: ChunkOpener,
    name: String,
}

impl BlobReader {
    /// The stream geometry.
    pub fn layout(&self) -> Layout {
        self.opener.layout()
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> CoreError {
        CoreError::corrupt(&self.name, e)
    }

    /// Decrypts the whole content into one buffer, in place (no second copy).
    pub fn read_all(&mut self) -> Result<Bytes> {
        let layout = self.layout();
        let plain_len = usize::try_from(layout.plaintext_len()).map_err(|e| self.corrupt(e))?;
        let mut out = Bytes::with_capacity(plain_len + TAG_LEN);
        self.file.seek(SeekFrom::Start(HEADER_LEN as u64))?;
        let mut filled = 0usize;
        for index in 0..layout.chunks {
            let range = layout.chunk_range(index).map_err(|e| self.corrupt(e))?;
            let len = (range.end - range.start) as usize;
            let slot = out.grow(len);
            self.file.read_exact(slot).map_err(|e| self.corrupt(e))?;
            let n = self
                .opener
                .open(index, slot)
                .map_err(|e| self.corrupt(e))?
                .len();
            filled += n;
            out.truncate(filled);
        }
        Ok(out)
    }

    /// Decrypts chunk `index` alone.
    pub fn read_chunk(&mut self, index: u64) -> Result<Bytes> {
        let range = self
            .layout()
            .chunk_range(index)
            .map_err(|e| self.corrupt(e))?;
        let len = (range.end - range.start) as usize;
        let mut out = Bytes::with_capacity(len);
        self.file
            .seek(SeekFrom::Start(HEADER_LEN as u64 + range.start))?;
        let slot = out.grow(len);
        self.file.read_exact(slot).map_err(|e| self.corrupt(e))?;
        let n = self
            .opener
            .open(index, slot)
            .map_err(|e| self.corrupt(e))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// Streams the decrypted content to `sink` using one chunk of memory. A failure part-way
    /// leaves the sink holding only authenticated chunks.
    pub fn copy_to(&mut self, sink: &mut impl Write) -> Result<u64> {
        let layout = self.layout();
        self.file.seek(SeekFrom::Start(HEADER_LEN as u64))?;
        let mut buf = vec![0u8; layout.chunk_size as usize + TAG_LEN];
        let mut total = 0u64;
        for index in 0..layout.chunks {
            let range = layout.chunk_range(index).map_err(|e| self.corrupt(e))?;
            let slot = &mut buf[..(range.end - range.start) as usize];
            self.file.read_exact(slot).map_err(|e| self.corrupt(e))?;
            let plain = self.opener.open(index, slot).map_err(|e| self.corrupt(e))?;
            sink.write_all(plain)?;
            total += plain.len() as u64;
        }
        Ok(total)
    }
}
