//! GDPR rights and retention in the app: corrections with history, erasure, the retention
//! review and policy, subject-access requests and bundles, the supervision export, and the
//! practice's details printed on them. Thin:
//! each command checks the shape of its input and calls the core. Bundles and exports the
//! therapist asks for go to the Downloads folder.

use casebook_core::records::access::{AccessExport, AccessOptions, AccessRequest, Redaction};
use casebook_core::records::clients::{IdentityChange, IdentityChanges};
use casebook_core::records::erasure::ErasureRecord;
use casebook_core::records::practice::PracticeProfile;
use casebook_core::records::retention::{RetentionItem, RetentionPolicy, presets};
use casebook_core::records::supervision::SupervisionOptions;
use casebook_core::{Client, ClientCode, parse_date};
use chrono::{Local, NaiveDate};
use serde::Serialize;
use tauri::State;

use crate::error::UiResult;
use crate::inputs::{chosen_path, downloads};
use crate::state::AppState;

#[tauri::command]
pub async fn client_edit(
    state: State<'_, AppState>,
    code: String,
    changes: IdentityChanges,
    reason: Option<String>,
) -> UiResult<Client> {
    let code = ClientCode::parse(&code)?;
    let reason = reason.filter(|r| !r.trim().is_empty());
    state.with_vault(|v| Ok(v.edit_client(&code, &changes, reason.as_deref())?))
}

#[tauri::command]
pub async fn client_history(
    state: State<'_, AppState>,
    code: String,
) -> UiResult<Vec<IdentityChange>> {
    let code = ClientCode::parse(&code)?;
    state.with_vault(|v| Ok(v.client_history(&code)?))
}

#[tauri::command]
pub async fn client_erase(
    state: State<'_, AppState>,
    code: String,
    reason: String,
    override_retention: bool,
) -> UiResult<ErasureRecord> {
    let code = ClientCode::parse(&code)?;
    state.with_vault(|v| {
        let record = v.erase_client(&code, &reason, override_retention)?;
        // The clock forgets the erased client's sessions today.
        let _ = state.load_day(v, Local::now().date_naive());
        Ok(record)
    })
}

#[derive(Serialize)]
pub struct ReviewDate {
    review_on: NaiveDate,
    basis: String,
}

#[tauri::command]
pub async fn retention_of(
    state: State<'_, AppState>,
    code: String,
) -> UiResult<Option<ReviewDate>> {
    let code = ClientCode::parse(&code)?;
    state.with_vault(|v| {
        Ok(v.retention_of(&code)?
            .map(|(review_on, basis)| ReviewDate { review_on, basis }))
    })
}

#[tauri::command]
pub async fn retention_review(state: State<'_, AppState>) -> UiResult<Vec<RetentionItem>> {
    state.with_vault(|v| Ok(v.retention_review(Local::now().date_naive())?))
}

#[derive(Serialize)]
pub struct Preset {
    id: &'static str,
    policy: RetentionPolicy,
}

#[derive(Serialize)]
pub struct PolicyView {
    policy: RetentionPolicy,
    presets: Vec<Preset>,
}

#[tauri::command]
pub async fn retention_policy_get(state: State<'_, AppState>) -> UiResult<PolicyView> {
    let policy = state.with_vault(|v| Ok(v.retention_policy()?))?;
    Ok(PolicyView {
        policy,
        presets: presets()
            .into_iter()
            .map(|(id, policy)| Preset { id, policy })
            .collect(),
    })
}

#[tauri::command]
pub async fn retention_policy_set(
    state: State<'_, AppState>,
    policy: RetentionPolicy,
) -> UiResult<RetentionPolicy> {
    state.with_vault(|v| Ok(v.set_retention_policy(policy)?))
}

#[tauri::command]
pub async fn retention_extend(
    state: State<'_, AppState>,
    code: String,
    until: Option<String>,
    reason: String,
) -> UiResult<()> {
    let code = ClientCode::parse(&code)?;
    let until = until
        .filter(|u| !u.trim().is_empty())
        .map(|u| parse_date(&u))
        .transpose()?;
    state.with_vault(|v| Ok(v.extend_retention(&code, until, &reason)?))
}

#[tauri::command]
pub async fn retention_destroy(
    state: State<'_, AppState>,
    code: String,
) -> UiResult<ErasureRecord> {
    let code = ClientCode::parse(&code)?;
    state.with_vault(|v| Ok(v.destroy_for_retention(&code)?))
}

#[tauri::command]
pub async fn sar_list(state: State<'_, AppState>) -> UiResult<Vec<AccessRequest>> {
    state.with_vault(|v| Ok(v.access_requests(false)?))
}

#[tauri::command]
pub async fn sar_open(
    state: State<'_, AppState>,
    code: String,
    received_on: String,
) -> UiResult<AccessRequest> {
    let code = ClientCode::parse(&code)?;
    let received = parse_date(&received_on)?;
    state.with_vault(|v| Ok(v.open_access_request(&code, received)?))
}

#[tauri::command]
pub async fn sar_create(
    state: State<'_, AppState>,
    code: String,
    include_process_notes: bool,
    received_on: Option<String>,
    redactions: Vec<Redaction>,
    folder: Option<String>,
) -> UiResult<AccessExport> {
    let code = ClientCode::parse(&code)?;
    let options = AccessOptions {
        include_process_notes,
        redactions,
        received_on: received_on
            .filter(|d| !d.trim().is_empty())
            .map(|d| parse_date(&d))
            .transpose()?,
    };
    let folder = match chosen_path(folder)? {
        Some(f) => f,
        None => downloads()?,
    };
    state.with_vault(|v| Ok(v.subject_access_export(&code, &options, &folder)?))
}

#[tauri::command]
pub async fn sar_close(state: State<'_, AppState>, id: String) -> UiResult<AccessRequest> {
    state.with_vault(|v| Ok(v.answer_access_request(&id)?))
}

#[derive(Serialize)]
pub struct SupervisionFile {
    file: String,
    notes: usize,
}

#[tauri::command]
pub async fn supervision_export(
    state: State<'_, AppState>,
    codes: Vec<String>,
    shift_days: Option<i64>,
    path: Option<String>,
) -> UiResult<SupervisionFile> {
    let codes = codes
        .iter()
        .map(|c| ClientCode::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let chosen = chosen_path(path)?;
    let export = state.with_vault(|v| {
        Ok(v.supervision_export(
            &codes,
            &SupervisionOptions {
                shift_days,
                note_ids: None,
            },
        )?)
    })?;
    let path = match chosen {
        Some(p) => {
            export.write_file(&p)?;
            p
        }
        None => export.write_to(&downloads()?)?,
    };
    Ok(SupervisionFile {
        file: path.display().to_string(),
        notes: export.notes,
    })
}

/// The practice's details printed on exports (Settings → Your practice).
#[tauri::command]
pub async fn practice_get(state: State<'_, AppState>) -> UiResult<PracticeProfile> {
    state.with_vault(|v| Ok(v.practice_profile()?))
}

#[tauri::command]
pub async fn practice_set(
    state: State<'_, AppState>,
    profile: PracticeProfile,
) -> UiResult<PracticeProfile> {
    state.with_vault(|v| Ok(v.set_practice_profile(&profile)?))
}
