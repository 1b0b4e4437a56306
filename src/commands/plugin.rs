//! `s3creds plugin install|list|info|remove`: manage the installed plugins.

use crate::cli::PluginCommand;
use crate::error::{Error, Result};
use crate::plugin::build;
use crate::plugin::registry::{FileStatus, Registry};
use std::fmt::Write;
use std::path::Path;

pub fn run(command: &PluginCommand) -> Result<()> {
    let registry = Registry::locate()?;
    match command {
        PluginCommand::Install { path } => install(&registry, path),
        PluginCommand::List => list(&registry),
        PluginCommand::Info { name } => info(&registry, name),
        PluginCommand::Remove { name } => {
            let removed = registry.remove(name)?;
            eprintln!("Removed plugin {} {}", removed.name, removed.version);
            Ok(())
        }
    }
}

fn install(registry: &Registry, path: &Path) -> Result<()> {
    let source = std::path::absolute(path)
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    let library = if source.is_dir() {
        if !source.join("Cargo.toml").is_file() {
            return Err(Error::invalid_with_hint(
                format!("{} is a folder without a Cargo.toml", source.display()),
                "pass a plugin crate folder or a built library",
            ));
        }
        eprintln!("Building {} with cargo build --release", source.display());
        build::build_crate(&source)?
    } else {
        // A link to a library is fine to install from: the copy made is a regular file. (Installed
        // files themselves must be regular files.)
        source.canonicalize().map_err(|e| {
            Error::invalid(format!("plugin {}: cannot read it: {e}", source.display()))
        })?
    };
    let installed = registry.install(&library, &source.display().to_string())?;
    eprintln!(
        "Installed plugin {} {} (ABI {}), providing {}",
        installed.name,
        installed.version,
        installed.abi,
        installed.provides()
    );
    Ok(())
}

fn list(registry: &Registry) -> Result<()> {
    let manifest = registry.manifest()?;
    if manifest.plugins.is_empty() {
        eprintln!(
            "No plugins installed (folder {}).",
            registry.folder().display()
        );
        return Ok(());
    }
    let rows: Vec<[String; 5]> = manifest
        .plugins
        .iter()
        .map(|plugin| {
            [
                plugin.name.clone(),
                plugin.version.clone(),
                plugin.abi.to_string(),
                plugin.provides(),
                registry.status(plugin).to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "VERSION", "ABI", "PROVIDES", "STATUS"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    crate::output::write_stdout(&out)
}

fn info(registry: &Registry, name: &str) -> Result<()> {
    let entry = registry.find(name)?;
    let path = registry.folder().join(&entry.file);
    // Loading checks the folder, the file and its checksum: a refused plugin is an error, not a listing.
    let loaded = registry.load(&entry)?;
    let mut out = String::new();
    let _ = writeln!(out, "name:     {}", entry.name);
    let _ = writeln!(out, "version:  {}", entry.version);
    let _ = writeln!(out, "abi:      {}", entry.abi);
    let _ = writeln!(out, "file:     {}", path.display());
    let _ = writeln!(out, "sha256:   {}", entry.sha256);
    let _ = writeln!(out, "source:   {}", entry.source);
    let _ = writeln!(out, "status:   {}", FileStatus::Ok);
    for preset in &loaded.description.presets {
        let _ = writeln!(out, "preset:   {}  {}", preset.name, preset.description);
    }
    for format in &loaded.description.formats {
        let _ = writeln!(out, "format:   {}  {}", format.name, format.description);
    }
    crate::output::write_stdout(&out)
}
