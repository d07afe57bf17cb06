// The SwiftUI screens: lock, enrollment, client list with search, timeline, note editor,
// capture, before/after comparison, sync status, settings. Each is a thin view over a WardKit
// model; no screen touches the core directly.
import SwiftUI
import UIKit
import WardCore
import WardKit

struct LockView: View {
    @StateObject var model: LockModel

    var body: some View {
        VStack(spacing: 24) {
            Text("Ward is locked").font(.title2)
            if model.unlocking {
                ProgressView()
            } else {
                Button("Unlock with Face ID") { Task { await model.unlock() } }
                    .buttonStyle(.borderedProminent)
            }
            if let error = model.error {
                Text(error).foregroundColor(.red)
            }
        }
        .task { await model.unlock() }
    }
}

struct EnrollView: View {
    @EnvironmentObject var graph: AppGraph
    @State private var server = "https://"
    @State private var tenant = ""
    @State private var invite = ""
    @State private var name = ""
    @State private var status: String?
    @State private var busy = false

    var body: some View {
        Form {
            Section("Enroll this phone") {
                TextField("Server", text: $server).textInputAutocapitalization(.never)
                TextField("Clinic id", text: $tenant).textInputAutocapitalization(.never)
                TextField("Invite code", text: $invite).textInputAutocapitalization(.never)
                TextField("Your name", text: $name)
            }
            Button("Enroll with a passkey") {
                busy = true
                Task {
                    do {
                        try await graph.session.create(tenantId: tenant, deviceId: UUID().uuidString.lowercased(), userId: "")
                        let window = UIApplication.shared.connectedScenes.compactMap { ($0 as? UIWindowScene)?.keyWindow }.first
                        let passkey = PasskeyAuthenticator(anchor: window)
                        let result = try await graph.sync.enroll(
                            server: server,
                            inviteCode: invite,
                            userName: name,
                            deviceName: UIDevice.current.name,
                            passkey: passkey
                        )
                        status = "Device status: \(result)"
                    } catch {
                        status = userMessage(error)
                    }
                    busy = false
                }
            }
            .disabled(busy || tenant.isEmpty || invite.isEmpty || name.isEmpty)
            if let status {
                Text(status)
            }
        }
    }
}

struct ClientListView: View {
    @EnvironmentObject var graph: AppGraph
    @StateObject var model: ClientListModel
    @State private var adding = false
    @State private var newName = ""

    var body: some View {
        List(model.rows) { row in
            NavigationLink(value: row.id) {
                VStack(alignment: .leading) {
                    Text(row.name).font(.headline)
                    if let detail = row.detail {
                        Text(detail).font(.caption)
                    }
                }
            }
        }
        .navigationTitle("Clients")
        .navigationDestination(for: String.self) { id in
            TimelineView(model: TimelineModel(
                clientId: id,
                clients: graph.clients,
                notes: graph.notes,
                photos: graph.photos,
                consents: graph.consents
            ))
        }
        .searchable(text: $model.query, prompt: "Search clients and notes")
        .onChange(of: model.query) { _ in Task { await model.load() } }
        .task { await model.load() }
        .toolbar {
            ToolbarItem(placement: .navigationBarLeading) {
                NavigationLink("Sync") { SyncStatusView(model: SyncStatusModel(sync: graph.sync)) }
            }
            ToolbarItem(placement: .navigationBarTrailing) {
                Menu("More") {
                    Button("Add client") { adding = true }
                    NavigationLink("Settings") { SettingsView(model: SettingsModel(session: graph.session)) }
                }
            }
        }
        .alert("New client", isPresented: $adding) {
            TextField("Name", text: $newName)
            Button("Add") {
                Task {
                    _ = await model.add(name: newName, dateOfBirth: nil)
                    newName = ""
                }
            }
            Button("Cancel", role: .cancel) {}
        }
    }
}

struct TimelineView: View {
    @EnvironmentObject var graph: AppGraph
    @StateObject var model: TimelineModel

    var body: some View {
        List {
            Section {
                HStack {
                    NavigationLink("New note") {
                        NoteEditorView(model: NoteEditorModel(clientId: model.clientId, notes: graph.notes), noteId: nil)
                    }
                    if model.hasClinicalConsent {
                        NavigationLink("Photo") {
                            CaptureView(model: CaptureModel(clientId: model.clientId, photos: graph.photos, consents: graph.consents))
                        }
                    } else {
                        Button("Record consent") { Task { await model.recordConsent([.clinical], detail: "recorded in app") } }
                    }
                    NavigationLink("Compare") { CompareView(model: CompareModel(clientId: model.clientId, photos: graph.photos)) }
                }
            }
            if let error = model.error {
                Text(error).foregroundColor(.red)
            }
            ForEach(model.items) { item in
                switch item {
                case .note(let note):
                    NavigationLink {
                        NoteEditorView(model: NoteEditorModel(clientId: model.clientId, notes: graph.notes), noteId: note.noteId)
                    } label: {
                        VStack(alignment: .leading) {
                            Text(note.status == .signed ? "Note · signed" : "Note · draft").font(.caption)
                            Text(note.preview)
                            if note.hasConflict {
                                Text("Edited on two devices: both versions kept").foregroundColor(.red)
                            }
                        }
                    }
                case .photo(let photo):
                    HStack {
                        Thumbnail(photos: graph.photos, photoId: photo.photoId)
                        Text([photo.caption, photo.seriesLabel ?? ""].filter { !$0.isEmpty }.joined(separator: " · "))
                    }
                case .consent(let consent):
                    HStack {
                        Text("Consent: " + consent.scopes.map { "\($0)" }.joined(separator: ", "))
                        if consent.withdrawnAtMs == nil {
                            Button("Withdraw") { Task { await model.withdraw(consent.consentId) } }
                        } else {
                            Text("(withdrawn)")
                        }
                    }
                }
            }
        }
        .navigationTitle(model.client?.displayName ?? "")
        .task { await model.load() }
    }
}

/// A photo's thumbnail, decrypted by the core into memory.
struct Thumbnail: View {
    let photos: PhotoRepository
    let photoId: String
    @State private var image: UIImage?

    var body: some View {
        Group {
            if let image {
                Image(uiImage: image).resizable().scaledToFill()
            } else {
                Color.gray.opacity(0.2)
            }
        }
        .frame(width: 64, height: 64)
        .clipped()
        .task {
            do {
                image = UIImage(data: try await photos.thumbnail(photoId))
            } catch {
                image = nil
            }
        }
    }
}

struct NoteEditorView: View {
    @StateObject var model: NoteEditorModel
    let noteId: String?

    var body: some View {
        Form {
            Picker("Kind", selection: $model.mode) {
                Text("Free text").tag(NoteEditorModel.Mode.text)
                Text("SOAP").tag(NoteEditorModel.Mode.soap)
            }
            .pickerStyle(.segmented)
            .disabled(model.signed)
            if model.mode == .text {
                TextEditor(text: $model.text).frame(minHeight: 160).disabled(model.signed)
            } else {
                TextField("Subjective", text: $model.subjective, axis: .vertical).disabled(model.signed)
                TextField("Objective", text: $model.objective, axis: .vertical).disabled(model.signed)
                TextField("Assessment", text: $model.assessment, axis: .vertical).disabled(model.signed)
                TextField("Plan", text: $model.plan, axis: .vertical).disabled(model.signed)
            }
            if let conflicts = model.note?.conflictingVersionIds, !conflicts.isEmpty {
                Text("\(conflicts.count) conflicting version(s) from another device are kept.").foregroundColor(.red)
            }
            if model.signed {
                ForEach(model.note?.addenda ?? [], id: \.addendumId) { addendum in
                    Text("Addendum by \(addendum.author): \(addendum.text)").font(.caption)
                }
                TextField("Addendum", text: $model.addendum, axis: .vertical)
                Button("Add addendum") { Task { await model.amend() } }.disabled(model.busy || model.addendum.isEmpty)
            } else {
                Button("Save draft") { Task { await model.save() } }.disabled(model.busy)
                Button("Sign") { Task { await model.sign() } }.disabled(model.busy)
            }
            if let error = model.error {
                Text(error).foregroundColor(.red)
            }
        }
        .navigationTitle(model.signed ? "Signed note" : "Note")
        .task {
            if let noteId {
                await model.load(noteId: noteId)
            }
        }
    }
}

struct CaptureView: View {
    @StateObject var model: CaptureModel
    @StateObject private var camera = CameraCapture()

    var body: some View {
        VStack {
            CameraPreview(session: camera.session).frame(maxHeight: .infinity)
            Form {
                TextField("Caption", text: $model.caption)
                TextField("Series (for before/after)", text: $model.series)
                TextField("Label (e.g. before)", text: $model.seriesLabel)
                switch model.state {
                case .ready:
                    Button("Take photo") {
                        camera.shoot { result in
                            switch result {
                            case .success(let jpeg):
                                Task { await model.captured(jpeg) }
                            case .failure:
                                model.failed("The camera failed.")
                            }
                        }
                    }
                case .saving:
                    ProgressView("Encrypting…")
                case .saved(let photo):
                    Text("Saved encrypted. Removed: \(photo.removedMetadata.joined(separator: ", "))")
                    Button("Another") { model.reset() }
                case .failed(let message):
                    Text(message).foregroundColor(.red)
                    Button("Try again") { model.reset() }
                }
            }
            .frame(maxHeight: 320)
        }
        .onAppear { camera.start() }
        .onDisappear { camera.stop() }
    }
}

struct CompareView: View {
    @StateObject var model: CompareModel
    @State private var split: Double = 0.5

    var body: some View {
        VStack {
            if let error = model.error {
                Text(error).foregroundColor(.red)
            }
            if let b = model.beforeJpeg.flatMap({ UIImage(data: $0) }), let a = model.afterJpeg.flatMap({ UIImage(data: $0) }) {
                Text("\(model.before?.seriesLabel ?? "before")  ←→  \(model.after?.seriesLabel ?? "after")")
                GeometryReader { geo in
                    ZStack(alignment: .leading) {
                        Image(uiImage: b).resizable().scaledToFit()
                        Image(uiImage: a).resizable().scaledToFit()
                            .mask(alignment: .trailing) {
                                Rectangle().frame(width: geo.size.width * (1 - split))
                            }
                    }
                }
                Slider(value: $split)
            }
        }
        .padding()
        .task { await model.load() }
        .onDisappear { model.clear() }
    }
}

struct SyncStatusView: View {
    @StateObject var model: SyncStatusModel

    var body: some View {
        List {
            if let s = model.status {
                Text("Device: \(s.deviceStatus.isEmpty ? "not enrolled" : s.deviceStatus)")
                Text("Not synced: \(s.unsyncedNotes) notes, \(s.unsyncedPhotos) photos, \(s.unsyncedClients) clients")
                if let alarm = s.unsyncedAlarm {
                    Text(alarm).foregroundColor(.red)
                }
            }
            if let warning = model.leaseWarning {
                Text(warning).foregroundColor(.red)
            }
            if let progress = model.progress {
                Text(progress)
            }
            if model.syncing {
                Button("Cancel") { model.cancel() }
            } else {
                Button("Sync now") { model.syncNow() }
            }
            if let result = model.lastResult {
                Text(result)
            }
            if let error = model.error {
                Text(error).foregroundColor(.red)
            }
        }
        .navigationTitle("Sync")
        .task { await model.refresh() }
    }
}

struct SettingsView: View {
    @StateObject var model: SettingsModel
    @State private var confirmWipe = false

    var body: some View {
        List {
            if let s = model.status {
                Text("Device id: \(s.deviceId)")
                Text("Clinic: \(s.tenantId)")
            }
            Text("Phone: \(UIDevice.current.model), iOS \(UIDevice.current.systemVersion)")
            Text("Key store: Secure Enclave, Face ID / Touch ID")
            if let p = model.policy {
                Text("Locks after \(p.idleLockSeconds) s idle; offline lease \(p.offlineLeaseHours) h")
            }
            if let ok = model.auditOk {
                Text(ok ? "Audit log: \(model.auditEvents ?? 0) events, chain verified" : "Audit log: chain broken")
            }
            Button("Lock now") { model.lockNow() }
            Button("Wipe Ward data on this phone", role: .destructive) { confirmWipe = true }
            if let error = model.error {
                Text(error).foregroundColor(.red)
            }
        }
        .navigationTitle("Settings")
        .task { await model.load() }
        .confirmationDialog("Wipe this phone?", isPresented: $confirmWipe) {
            Button("Wipe", role: .destructive) { Task { await model.wipe() } }
        }
    }
}
