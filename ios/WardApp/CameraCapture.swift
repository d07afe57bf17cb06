// CameraCapture: AVFoundation photo capture straight into memory.
import AVFoundation
import SwiftUI
import UIKit

/// Runs an AVCaptureSession with an AVCapturePhotoOutput. A shot arrives in
/// `photoOutput(_:didFinishProcessingPhoto:error:)`; `fileDataRepresentation()` gives the JPEG
/// bytes in memory, which go to the core. Nothing is written to a file and PHPhotoLibrary is
/// never used (the app does not even ask for photo-library access).
final class CameraCapture: NSObject, ObservableObject, AVCapturePhotoCaptureDelegate {
    let session = AVCaptureSession()
    private let output = AVCapturePhotoOutput()
    private let queue = DispatchQueue(label: "org.ward.camera")
    private var onPhoto: ((Result<Data, Error>) -> Void)?

    struct CaptureFailed: Error {}

    func start() {
        queue.async {
            guard self.session.inputs.isEmpty else {
                self.session.startRunning()
                return
            }
            self.session.beginConfiguration()
            self.session.sessionPreset = .photo
            if let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back),
               let input = try? AVCaptureDeviceInput(device: device),
               self.session.canAddInput(input), self.session.canAddOutput(self.output) {
                self.session.addInput(input)
                self.session.addOutput(self.output)
            }
            self.session.commitConfiguration()
            self.session.startRunning()
        }
    }

    func stop() {
        queue.async { self.session.stopRunning() }
    }

    func shoot(_ completion: @escaping (Result<Data, Error>) -> Void) {
        onPhoto = completion
        let settings = AVCapturePhotoSettings(format: [AVVideoCodecKey: AVVideoCodecType.jpeg])
        output.capturePhoto(with: settings, delegate: self)
    }

    func photoOutput(_ output: AVCapturePhotoOutput, didFinishProcessingPhoto photo: AVCapturePhoto, error: Error?) {
        let result: Result<Data, Error>
        if let error {
            result = .failure(error)
        } else if let data = photo.fileDataRepresentation() {
            result = .success(data)
        } else {
            result = .failure(CaptureFailed())
        }
        DispatchQueue.main.async {
            self.onPhoto?(result)
            self.onPhoto = nil
        }
    }
}

/// The live preview.
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var previewLayer: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer }
    }

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        view.previewLayer.session = session
        view.previewLayer.videoGravity = .resizeAspectFill
        return view
    }

    func updateUIView(_ uiView: PreviewView, context: Context) {}
}
